"""The publish pipeline: preflight -> clone -> build -> closure -> sign -> upload -> record.

- `floxls.publish.pipeline`: `run(request, progress, cancel)`, `PublishRequest`,
  `PublishResult`, `PreflightFailed`.
- `floxls.publish.preflight`: `Finding`, `preflight(...)`, and the cheap checks the editor
  reuses (`git_findings`, `target_findings`, `manifest_findings`, `settings_findings`).
- `floxls.publish.locks`: one publish per (environment, target), across threads and
  processes (`publish_lock`, `is_publishing`).

Nothing is imported here, so the language server can import this package cheaply.
"""
