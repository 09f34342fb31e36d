"""TensorFlow on live objects: quiet import, determinism, folders, snapshots, checked restore, migration."""
