-- wrk script for bench/footprint.sh: POSTs BATCH-line bodies of the line-protocol file
-- LP_FILE, cycling through them; each wrk thread starts at its own offset, so the
-- connections do not send the same batch at once. AUTH, when set, is sent as the
-- Authorization header. The bodies are split in `init`, before wrk's clock starts.
local bodies = {}
local idx = 0
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  local batch = tonumber(os.getenv("BATCH") or "5000")
  local f = assert(io.open(assert(os.getenv("LP_FILE"), "LP_FILE not set"), "rb"))
  local buf, n = {}, 0
  for line in f:lines() do
    n = n + 1
    buf[n] = line
    if n == batch then
      bodies[#bodies + 1] = table.concat(buf, "\n", 1, n) .. "\n"
      buf, n = {}, 0
    end
  end
  if n > 0 then bodies[#bodies + 1] = table.concat(buf, "\n", 1, n) .. "\n" end
  f:close()
  idx = ((id or 1) - 1) * math.floor(#bodies / 4)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "text/plain; charset=utf-8"
  if os.getenv("AUTH") then wrk.headers["Authorization"] = os.getenv("AUTH") end
end

function request()
  idx = idx % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[idx])
end
