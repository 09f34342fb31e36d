"""ckptkit's budget harness (`python -m benchmarks`) and the Chromium finder the browser tests share."""
