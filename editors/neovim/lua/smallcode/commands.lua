-- :SmallCodeStatus, :SmallCodeFix, :SmallCodeGenerateTests, :SmallCodeReindex, :SmallCodeToggle.
-- Each sends `workspace/executeCommand` to the server; edits come back as `workspace/applyEdit`,
-- which Neovim applies to the buffers itself.
local util = require("smallcode.util")

local api = vim.api

local M = {}

local function cfg()
  return require("smallcode").config()
end

local function resolve(bufnr)
  if bufnr == nil or bufnr == 0 then
    return api.nvim_get_current_buf()
  end
  return bufnr
end

--- The SmallCode client of `bufnr`; with `any`, any running SmallCode client as a fallback.
function M.client(bufnr, any)
  local name = cfg().name
  local clients = util.clients(name, resolve(bufnr))
  if clients[1] then
    return clients[1]
  end
  if any then
    return util.clients(name, nil)[1]
  end
  return nil
end

local function no_client(bufnr)
  local message = ("no SmallCode server is attached to this buffer (%s). "):format(
    vim.bo[resolve(bufnr)].filetype ~= "" and ("filetype " .. vim.bo[resolve(bufnr)].filetype)
      or "no filetype"
  ) .. "See :checkhealth smallcode and :LspLog."
  return { code = -1, message = message }
end

--- The buffer's SmallCode client; without one, warn and hand the error to `on_result` (if any).
local function attached_or_report(bufnr, on_result)
  local client = M.client(bufnr)
  if not client then
    local err = no_client(bufnr)
    util.notify(err.message, vim.log.levels.WARN)
    if on_result then
      on_result(nil, err)
    end
  end
  return client
end

local function error_text(err)
  if type(err) == "table" then
    return err.message or vim.inspect(err)
  end
  return tostring(err)
end

--- `workspace/executeCommand` `command` with `arguments`; `callback(result, err)` when given,
--- otherwise waits (up to `timeout_ms`) and returns result, err.
function M.execute(client, command, arguments, bufnr, callback, timeout_ms)
  local params = { command = command, arguments = arguments or {} }
  if callback then
    local ok = util.request(client, "workspace/executeCommand", params, function(err, result)
      callback(result, err)
    end, bufnr)
    if not ok then
      callback(nil, { code = -1, message = "the SmallCode server is not running" })
    end
    return ok
  end
  return util.request_sync(client, "workspace/executeCommand", params, timeout_ms or 10000, bufnr)
end

-- ------------------------------------------------------------------ status

--- The server's `smallcode.status` as a Lua table. With `opts.callback(result, err)` it returns
--- at once; otherwise it waits up to `opts.timeout_ms` (10 s) and returns result, err.
function M.status(opts)
  opts = opts or {}
  local bufnr = resolve(opts.bufnr)
  local client = M.client(bufnr, true)
  if not client then
    local err = no_client(bufnr)
    if opts.callback then
      opts.callback(nil, err)
      return nil
    end
    return nil, err
  end
  return M.execute(client, "smallcode.status", {}, bufnr, opts.callback, opts.timeout_ms)
end

--- A read-only scratch buffer with `lines` in a centred floating window; `q` or <Esc> closes it.
function M.open_float(lines, title, filetype)
  local buf = api.nvim_create_buf(false, true)
  api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].filetype = filetype or "json"
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].modifiable = false
  local widest = 20
  for _, line in ipairs(lines) do
    widest = math.max(widest, vim.fn.strdisplaywidth(line))
  end
  local width = math.max(20, math.min(widest + 2, math.floor(vim.o.columns * 0.85)))
  local height = math.max(1, math.min(#lines, math.floor((vim.o.lines - 2) * 0.85)))
  local border = cfg().commands.status_border or "rounded"
  local win_opts = {
    relative = "editor",
    width = width,
    height = height,
    row = math.max(0, math.floor((vim.o.lines - height) / 2) - 1),
    col = math.max(0, math.floor((vim.o.columns - width) / 2)),
    style = "minimal",
    border = border,
  }
  if border ~= "none" and border ~= "" then
    win_opts.title = title
    win_opts.title_pos = "center"
  end
  local win = api.nvim_open_win(buf, true, win_opts)
  for _, key in ipairs({ "q", "<Esc>" }) do
    vim.keymap.set("n", key, function()
      if api.nvim_win_is_valid(win) then
        api.nvim_win_close(win, true)
      end
    end, { buffer = buf, nowait = true, silent = true, desc = "SmallCode: close" })
  end
  return buf, win
end

--- :SmallCodeStatus: the status JSON, indented, in a floating window. `opts.on_shown(buf, win,
--- status)` runs once it is open.
function M.show_status(opts)
  opts = opts or {}
  M.status({
    bufnr = opts.bufnr,
    callback = function(result, err)
      if err then
        util.notify("status failed: " .. error_text(err), vim.log.levels.ERROR)
        if opts.on_shown then
          opts.on_shown(nil, nil, nil, err)
        end
        return
      end
      local lines = vim.split(util.pretty_json(result), "\n", { plain = true })
      local buf, win = M.open_float(lines, " SmallCode status ", "json")
      if opts.on_shown then
        opts.on_shown(buf, win, result)
      end
    end,
  })
end

-- ------------------------------------------------------------------ fix

--- The most severe diagnostic on line `row` of `bufnr`, as an LSP diagnostic, or nil.
local function diagnostic_at(bufnr, row, encoding)
  local found = vim.diagnostic.get(bufnr, { lnum = row })
  if #found == 0 then
    return nil
  end
  table.sort(found, function(a, b)
    return (a.severity or 4) < (b.severity or 4)
  end)
  local d = found[1]
  if type(d.user_data) == "table" and type(d.user_data.lsp) == "table" then
    return d.user_data.lsp
  end
  local function line(r)
    return api.nvim_buf_get_lines(bufnr, r, r + 1, false)[1] or ""
  end
  local end_row = d.end_lnum or d.lnum
  return {
    message = d.message,
    severity = d.severity,
    source = d.source,
    code = d.code,
    range = {
      start = { line = d.lnum, character = util.char_col(line(d.lnum), d.col or 0, encoding) },
      ["end"] = {
        line = end_row,
        character = util.char_col(line(end_row), d.end_col or d.col or 0, encoding),
      },
    },
  }
end

local function position(bufnr, client)
  local win = api.nvim_get_current_win()
  local row, col = 0, 0
  if api.nvim_win_get_buf(win) == bufnr then
    local pos = api.nvim_win_get_cursor(win)
    row, col = pos[1] - 1, pos[2]
  end
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
  return { line = row, character = util.char_col(line, col, client.offset_encoding) }
end

--- :SmallCodeFix: fix the problem at the cursor (the line's most severe diagnostic, else the
--- nearest syntax error the server finds), verified in the sandbox, applied as one edit.
--- opts: bufnr, diagnostic (an LSP diagnostic to fix), on_result(result, err).
function M.fix(opts)
  opts = opts or {}
  local bufnr = resolve(opts.bufnr)
  local client = attached_or_report(bufnr, opts.on_result)
  if not client then
    return false
  end
  local pos = position(bufnr, client)
  local argument = { uri = vim.uri_from_bufnr(bufnr), position = pos }
  local diagnostic = opts.diagnostic or diagnostic_at(bufnr, pos.line, client.offset_encoding)
  if diagnostic then
    argument.diagnostic = diagnostic
  end
  if not opts.quiet then
    util.notify("fixing (each attempt is checked in a sandbox; this can take a while)...")
  end
  return M.execute(client, "smallcode.fix", { argument }, bufnr, function(result, err)
    if not opts.quiet then
      if err then
        util.notify("fix failed: " .. error_text(err), vim.log.levels.ERROR)
      elseif type(result) == "table" and result.applied then
        util.notify(result.title or "fix applied")
      elseif type(result) == "table" then
        util.notify(result.message or result.error or "no verified fix", vim.log.levels.WARN)
      end
    end
    if opts.on_result then
      opts.on_result(result, err)
    end
  end)
end

-- ------------------------------------------------------------------ tests

local function workspace_root(client, bufnr)
  if client.root_dir then
    return client.root_dir
  end
  local folder = client.workspace_folders and client.workspace_folders[1]
  if folder and folder.uri then
    return vim.uri_to_fname(folder.uri)
  end
  return vim.fn.fnamemodify(api.nvim_buf_get_name(bufnr), ":h")
end

--- :SmallCodeGenerateTests [name]: tests for the function at the cursor (or the one named),
--- generated, run, and kept only when they pass; written to the project's test file.
--- opts: bufnr, name, on_result(result, err).
function M.generate_tests(opts)
  opts = opts or {}
  local bufnr = resolve(opts.bufnr)
  local client = attached_or_report(bufnr, opts.on_result)
  if not client then
    return false
  end
  local argument = { uri = vim.uri_from_bufnr(bufnr) }
  if opts.name and opts.name ~= "" then
    argument.name = opts.name
  else
    argument.position = position(bufnr, client)
  end
  if not opts.quiet then
    util.notify("generating tests (each one is run before it is kept; this can take a while)...")
  end
  return M.execute(client, "smallcode.generateTests", { argument }, bufnr, function(result, err)
    if not opts.quiet then
      if err then
        util.notify("test generation failed: " .. error_text(err), vim.log.levels.ERROR)
      elseif type(result) == "table" and result.applied then
        util.notify(("%s written to %s (save it to keep it)"):format(
          result.summary or ((result.kept or 0) .. " tests"),
          result.testFile or "the test file"
        ))
        if cfg().commands.open_generated_tests and result.testFile then
          local path = result.testFile
          if not path:match("^/") then
            path = workspace_root(client, bufnr) .. "/" .. path
          end
          vim.cmd("split " .. vim.fn.fnameescape(path))
        end
      elseif type(result) == "table" then
        util.notify(result.message or result.summary or "no test could be verified", vim.log.levels.WARN)
      end
    end
    if opts.on_result then
      opts.on_result(result, err)
    end
  end)
end

-- ------------------------------------------------------------------ reindex

function M.reindex(opts)
  opts = opts or {}
  local bufnr = resolve(opts.bufnr)
  local client = M.client(bufnr, true)
  if not client then
    util.notify(no_client(bufnr).message, vim.log.levels.WARN)
    return false
  end
  return M.execute(client, "smallcode.reindex", {}, bufnr, function(result, err)
    if err then
      util.notify("reindex failed: " .. error_text(err), vim.log.levels.ERROR)
    elseif type(result) == "table" then
      util.notify(("index: %s files, %s chunks"):format(result.files or 0, result.chunks or 0))
    end
    if opts.on_result then
      opts.on_result(result, err)
    end
  end)
end

--- Define the user commands (idempotent).
function M.create()
  local command = api.nvim_create_user_command
  command("SmallCodeStatus", function()
    M.show_status()
  end, { desc = "SmallCode: show the server status (model, index, counters) as JSON" })
  command("SmallCodeFix", function()
    M.fix()
  end, { desc = "SmallCode: fix the problem at the cursor (verified before it is applied)" })
  command("SmallCodeGenerateTests", function(args)
    M.generate_tests({ name = args.args })
  end, {
    nargs = "?",
    desc = "SmallCode: generate tests for the function at the cursor (or [name]), keep those that pass",
  })
  command("SmallCodeReindex", function()
    M.reindex()
  end, { desc = "SmallCode: rebuild the workspace index" })
  command("SmallCodeToggle", function()
    local on = require("smallcode").toggle()
    util.notify("ghost text " .. (on and "on" or "off"))
  end, { desc = "SmallCode: turn ghost text on or off" })
end

return M
