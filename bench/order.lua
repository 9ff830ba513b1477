-- bench/order.lua — wrk script: POST /api/orders/ with one random product.
-- Arguments (after `--`): TOKEN MIN_PRODUCT_ID MAX_PRODUCT_ID.
-- bench/http.sh gives every product a huge stock first, so each request is
-- the happy path (201) and non-2xx counts are errors worth reading.
local token, lo, hi

function init(args)
    token = args[1]
    lo = tonumber(args[2]) or 1
    hi = tonumber(args[3]) or lo
    math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
end

function request()
    local id = math.random(lo, hi)
    local body = string.format('{"items":[{"product_id":%d,"quantity":1}]}', id)
    return wrk.format("POST", "/api/orders/", {
        ["Authorization"] = "Bearer " .. token,
        ["Content-Type"] = "application/json",
    }, body)
end
