"""Helpers a single lesson needs: notebook 00's environment check, notebook 07's measurements."""
