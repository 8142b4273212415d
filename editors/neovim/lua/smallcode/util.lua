-- Small helpers shared by the SmallCode modules: Neovim version checks, LSP client calls that work
-- on 0.10 (functions) and 0.11+ (methods), position encodings, and a readable JSON printer.
local M = {}

--- True when the running Neovim is at least `version` ("0.11").
---@param version string
---@return boolean
function M.has(version)
  return vim.fn.has("nvim-" .. version) == 1
end

local methods = M.has("0.11")

--- client:request() on 0.11+, client.request() on 0.10.
function M.request(client, method, params, handler, bufnr)
  if methods then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

--- Synchronous request: result, err.
function M.request_sync(client, method, params, timeout_ms, bufnr)
  local response, err
  if methods then
    response, err = client:request_sync(method, params, timeout_ms, bufnr)
  else
    response, err = client.request_sync(method, params, timeout_ms, bufnr)
  end
  if not response then
    return nil, err or "no response"
  end
  if response.err then
    return nil, response.err
  end
  return response.result, nil
end

function M.cancel_request(client, id)
  if methods then
    return client:cancel_request(id)
  end
  return client.cancel_request(id)
end

--- LSP clients of this plugin, optionally only those attached to `bufnr`.
---@param name string
---@param bufnr integer|nil
function M.clients(name, bufnr)
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  return get({ name = name, bufnr = bufnr })
end

--- Byte offset into `line` of an LSP `character` in `encoding` ("utf-8", "utf-16", "utf-32").
--- Positions past the end of the line clamp to its end, as the LSP specification says.
---@param line string
---@param character integer
---@param encoding string|nil
---@return integer
function M.byte_col(line, character, encoding)
  if character <= 0 then
    return 0
  end
  encoding = encoding or "utf-16"
  if encoding == "utf-8" then
    return math.min(character, #line)
  end
  local ok, col
  if methods then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding == "utf-16")
  end
  if ok and type(col) == "number" then
    return math.min(col, #line)
  end
  return #line
end

--- LSP `character` (in `encoding`) of byte offset `col` in `line`.
---@param line string
---@param col integer
---@param encoding string|nil
---@return integer
function M.char_col(line, col, encoding)
  col = math.max(0, math.min(col, #line))
  encoding = encoding or "utf-16"
  if encoding == "utf-8" or col == 0 then
    return col
  end
  if methods then
    local ok, index = pcall(vim.str_utfindex, line, encoding, col, false)
    if ok and type(index) == "number" then
      return index
    end
  end
  local ok, utf32, utf16 = pcall(vim.str_utfindex, line, col)
  if ok then
    return encoding == "utf-32" and utf32 or utf16
  end
  return col
end

local function is_empty_dict(value)
  return getmetatable(value) == getmetatable(vim.empty_dict())
end

--- Copy of `value` in which empty tables are JSON objects (`{}`), not arrays (`[]`): settings are
--- always objects, and the server rejects a group that arrives as a list.
function M.as_objects(value)
  if type(value) ~= "table" then
    return value
  end
  if next(value) == nil then
    return vim.empty_dict()
  end
  if vim.islist(value) then
    return vim.deepcopy(value)
  end
  local out = {}
  for key, item in pairs(value) do
    out[key] = M.as_objects(item)
  end
  return out
end

local function json_string(value)
  return vim.json.encode(value)
end

--- Indented JSON with sorted keys, for people to read (`vim.json.encode` writes one long line).
---@param value any
---@param indent string|nil
---@return string
function M.pretty_json(value, indent)
  indent = indent or ""
  local inner = indent .. "  "
  if value == nil or value == vim.NIL then
    return "null"
  end
  local kind = type(value)
  if kind == "string" then
    return json_string(value)
  elseif kind == "number" then
    if value ~= value or value == math.huge or value == -math.huge then
      return "null"
    end
    if value == math.floor(value) and math.abs(value) < 1e15 then
      return string.format("%d", value)
    end
    return json_string(value)
  elseif kind == "boolean" then
    return tostring(value)
  elseif kind ~= "table" then
    return json_string(tostring(value))
  end
  if next(value) == nil then
    return is_empty_dict(value) and "{}" or "[]"
  end
  local parts = {}
  if vim.islist(value) then
    for _, item in ipairs(value) do
      parts[#parts + 1] = inner .. M.pretty_json(item, inner)
    end
    return "[\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "]"
  end
  local keys = vim.tbl_keys(value)
  table.sort(keys, function(a, b)
    return tostring(a) < tostring(b)
  end)
  for _, key in ipairs(keys) do
    parts[#parts + 1] = inner .. json_string(tostring(key)) .. ": " .. M.pretty_json(value[key], inner)
  end
  return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
end

function M.notify(message, level)
  vim.notify("SmallCode: " .. message, level or vim.log.levels.INFO)
end

return M
