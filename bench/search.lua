-- bench/search.lua — wrk script for GET /api/search/: rotates through a
-- fixed list of realistic queries (words, typos, filters, sorts, pages) and
-- prints p50/p95/p99 in milliseconds and the non-2xx count at the end.
local queries = {
  "q=smartphone", "q=smartphone%20128%20go", "q=smarphone", "q=casque%20bluetooth",
  "q=headphones", "q=t-shirt%20coton", "q=cafetiere&sort=price", "q=chaussures%20randonnee",
  "q=tente%204%20places&in_stock=true", "q=coque&category=coques", "q=sac%20de%20couchage",
  "q=lampe%20frontale&max_price=5000", "q=roman%20policier&page=2", "q=perceuse",
  "q=croquettes%20chien", "q=chocolat%20noir", "q=miel", "q=ordinateur%20portable&sort=-price",
  "q=clavier%20mecanique", "q=jean", "category=audio&sort=price", "q=wireless%20charger",
}
local i = 0
local non2xx = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/api/search/?" .. queries[(i % #queries) + 1])
end
response = function(status)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("search: %d requests, %.0f req/s, p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms, errors %d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
