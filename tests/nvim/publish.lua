-- Headless Neovim 0.7 end-to-end test of floxls' publish features, driven by
-- tests/test_nvim_publish.py:
--
--   nvim --headless -u tests/nvim/publish.lua
--
-- with $FLOXLS_NVIM_TEST naming a JSON file:
--   { "snippet": <the README's config, extracted>, "manifest": <manifest.toml>,
--     "repo": <its git repo>, "out": <results JSON>, "settings": {...}, "timeout_ms": n }
--
-- It loads the README snippet (after setting vim.g.floxls), opens the manifest, waits for
-- the git-state diagnostics, reads the code lenses, pushes the repository and saves (Neovim
-- 0.7 cannot watch .git/, so a save refreshes the git state), waits for the diagnostics to
-- clear, then runs the "Publish" lens with vim.lsp.codelens.run() and waits for the reply.
-- Everything observed goes to the results file; the Python side asserts on it. Every wait
-- is bounded; any failure still writes the results and quits.

local cfg = vim.fn.json_decode(table.concat(vim.fn.readfile(os.getenv("FLOXLS_NVIM_TEST")), "\n"))
local timeout = cfg.timeout_ms or 20000

local out = {
  stage = "start",
  messages = {},
  progress = {},
  log_lines = 0,
  diagnostics_before = {},
  diagnostics_after = {},
  lenses_before = {},
  lenses_after = {},
}

local function write_out()
  local f = assert(io.open(cfg.out, "w"))
  f:write(vim.fn.json_encode(out))
  f:close()
end

local function finish(err)
  out.error = err
  pcall(write_out)
  vim.cmd("qa!")
end

-- Capture what the server tells the user; keep Neovim's own handling where it is harmless.
vim.lsp.handlers["window/showMessage"] = function(_, result)
  table.insert(out.messages, { type = result.type, message = result.message })
end
vim.lsp.handlers["window/logMessage"] = function(_, _)
  out.log_lines = out.log_lines + 1
end
local default_progress = vim.lsp.handlers["$/progress"]
vim.lsp.handlers["$/progress"] = function(err, result, ctx, config)
  local v = result.value or {}
  table.insert(out.progress, {
    kind = v.kind,
    title = v.title,
    message = v.message,
    percentage = v.percentage,
    cancellable = v.cancellable,
  })
  return default_progress(err, result, ctx, config)
end
-- vim.lsp.codelens.run() passes the executeCommand reply to this handler.
vim.lsp.handlers["workspace/executeCommand"] = function(err, result)
  out.command_done = true
  out.command_result = result
  out.command_error = err and err.message or nil
end

local function wait(what, cond)
  out.stage = what
  if not vim.wait(timeout, cond, 50) then
    error("timed out waiting for " .. what, 0)
  end
end

local function git_diagnostics(buf)
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.severity == vim.diagnostic.severity.WARN then
      table.insert(found, { code = d.code, message = d.message, lnum = d.lnum })
    end
  end
  return found
end

local function lens_titles(buf)
  local titles = {}
  for _, lens in ipairs(vim.lsp.codelens.get(buf)) do
    if lens.command then
      table.insert(titles, { title = lens.command.title, line = lens.range.start.line })
    end
  end
  return titles
end

-- Refresh lenses until `cond(titles)` holds (refreshes are throttled by Neovim).
local function wait_lenses(what, buf, cond)
  local last = 0
  wait(what, function()
    local now = vim.loop.now()
    if now - last > 200 then
      last = now
      vim.lsp.codelens.refresh()
    end
    local titles = lens_titles(buf)
    return #titles > 0 and cond(titles)
  end)
  return lens_titles(buf)
end

local function run()
  vim.g.floxls = cfg.settings
  dofile(cfg.snippet)
  vim.cmd("edit " .. vim.fn.fnameescape(cfg.manifest))
  local buf = vim.api.nvim_get_current_buf()

  wait("client", function()
    return #vim.lsp.buf_get_clients(buf) > 0
  end)
  out.client_name = vim.lsp.buf_get_clients(buf)[next(vim.lsp.buf_get_clients(buf))].name

  -- 1. The unpushed commit shows as a warning, and the lens says the publish is blocked.
  wait("git diagnostics", function()
    return #git_diagnostics(buf) > 0
  end)
  out.diagnostics_before = git_diagnostics(buf)
  out.lenses_before = wait_lenses("blocked lenses", buf, function(titles)
    return titles[1].title:find("blocked", 1, true) ~= nil
  end)

  -- 2. Push, save: the git state is refreshed, the warning goes, the lens is plain again.
  local push = vim.fn.system({ "git", "-C", cfg.repo, "push", "-q" })
  if vim.v.shell_error ~= 0 then
    error("git push failed: " .. push, 0)
  end
  vim.cmd("write")
  wait("diagnostics to clear", function()
    return #git_diagnostics(buf) == 0
  end)
  out.diagnostics_after = git_diagnostics(buf)
  out.lenses_after = wait_lenses("publish lenses", buf, function(titles)
    for _, t in ipairs(titles) do
      if t.title:find("blocked", 1, true) then
        return false
      end
    end
    return true
  end)

  -- 3. Run the lens of the wanted target, the way a user does: cursor on its line.
  local line = nil
  for _, t in ipairs(out.lenses_after) do
    if t.title == "Publish " .. cfg.target then
      line = t.line
    end
  end
  if line == nil then
    error("no lens for " .. cfg.target, 0)
  end
  vim.api.nvim_win_set_cursor(0, { line + 1, 0 })
  vim.lsp.codelens.run()
  timeout = cfg.publish_timeout_ms or timeout
  wait("publish", function()
    return out.command_done == true
  end)
  out.stage = "done"
end

local ok, err = pcall(run)
finish(ok and vim.NIL or tostring(err))
