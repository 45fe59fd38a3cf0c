# ruff: noqa
# expect: timeout
# why: an infinite loop that catches every exception, KeyboardInterrupt and SystemExit included
def add(a, b):
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
