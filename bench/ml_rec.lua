-- bench/ml_rec.lua — wrk script for bench/ml_rec.sh: GET one recommendation
-- endpoint with a random product id (similar / also-bought) or for a bearer
-- token (recommendations). Arguments (after `--`): PATH_KIND MAX_PRODUCT_ID
-- [TOKEN] [UNCACHED]. PATH_KIND is similar, also-bought or user. UNCACHED=1
-- varies ?limit= over 1..50 so most user requests miss the cache; product
-- requests over 100,000 ids miss it anyway on their first pass.
local kind, hi, token, uncached

function init(args)
    kind = args[1] or "similar"
    hi = tonumber(args[2]) or 1000
    token = args[3]
    uncached = args[4] == "1"
    math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
end

function request()
    local headers = {}
    if token and token ~= "" then
        headers["Authorization"] = "Bearer " .. token
    end
    if kind == "user" then
        local limit = uncached and math.random(1, 50) or 10
        return wrk.format("GET", "/api/recommendations/?limit=" .. limit, headers)
    end
    return wrk.format("GET", string.format("/api/products/%d/%s/?limit=10", math.random(1, hi), kind),
        headers)
end
