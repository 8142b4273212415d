"""A fuzzer for the SmallCode language server's LSP surface: `python -m clients.fuzz.run`.

generator.py, faults/, content.py   what to send (seeded; every fault class scheduled in every run)
frames.py                           actions, frames and their bytes on the wire; replay files
driver.py                           raw stdio: malformed bytes out, strict parsing of answers in
oracle.py, textmodel.py             what the server must answer, from a model of the session
runner.py                           sessions against fresh servers, the health check, teardown
minimize.py                         delta debugging of a failing action sequence
"""
