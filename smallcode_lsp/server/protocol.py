"""JSON-RPC protocol that answers every request, even one whose params do not parse.

pygls raises while deserialising a request with malformed params and never replies, which leaves the
editor waiting forever. We reply with InvalidParams naming the method, and drop the message.
"""

from __future__ import annotations

import logging
from typing import Any

from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)


class _Unparsable:
    """Stands in for a message we already answered with an error."""

    jsonrpc = "unparsable"


class SmallCodeProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            method = data.get("method")
            if "id" in data and method is not None:
                detail = JsonRpcInvalidParams(
                    f"invalid params for {method}: they do not match the LSP schema"
                )
                if not isinstance(exc, JsonRpcInvalidParams):
                    detail = exc
                self._send_response(data["id"], None, detail.to_response_error())
            else:
                log.warning("dropping malformed notification %s", method)
            return _Unparsable()

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Unparsable):
            return
        super().handle_message(message)
