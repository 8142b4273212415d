"""llama.cpp's C-side log, routed into Python logging (stdout is the LSP channel and must stay clean)."""

from __future__ import annotations

import ctypes
import logging
from collections import deque
from typing import Any


class LlamaLogBridge:
    """Routes llama.cpp's C-side log into Python logging and keeps recent errors for messages.

    llama-cpp-python's own callback prints to sys.stderr; ours must stay referenced for as long
    as llama.cpp may call it, hence the single module-level instance.
    """

    def __init__(self) -> None:
        self.errors: deque[str] = deque(maxlen=20)
        self._callback: Any = None
        self._level = 0
        self._logger = logging.getLogger("smallcode_lsp.llama_cpp")

    def install(self, llama_cpp: Any) -> None:
        if self._callback is not None:
            return

        @llama_cpp.llama_log_callback
        def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            # ggml.h: DEBUG=1 INFO=2 WARN=3 ERROR=4 CONT=5 (continues the previous message).
            message = text.decode("utf-8", errors="replace").rstrip("\n")
            if level != 5:
                self._level = level
            if not message.strip():
                return
            if self._level == 4:
                self.errors.append(message.strip())
                self._logger.warning("%s", message)
            elif self._level == 3:
                self._logger.info("%s", message)
            else:
                self._logger.debug("%s", message)

        self._callback = callback
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))

    def recent_errors(self) -> str:
        return "; ".join(self.errors)


LOG_BRIDGE = LlamaLogBridge()
