"""Where cases run: this machine (host.py) or an Android phone over ADB (adb.py)."""
