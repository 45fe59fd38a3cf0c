# ruff: noqa
# expect: invalid
# why: sys.exit(0) while loading, hoping a zero exit code reads as success
import sys
sys.exit(0)
