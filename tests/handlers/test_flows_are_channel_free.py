"""The flows, their engine and the chat router load no channel: imported in a fresh interpreter,
they bring in no aiogram, no Telegram, WhatsApp or SMS adapter (pyproject's import-linter contracts
say the same for every import path)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOWS = [
    "handlers.engine.wizard",
    "handlers.engine.inputs",
    "handlers.common.when",
    "handlers.common.where",
    "handlers.report.flow",
    "handlers.report.steps",
    "handlers.report.buttons",
    "handlers.newcase.flow",
    "handlers.newcase.steps",
    "handlers.newcase.buttons",
    "handlers.alerts.flow",
    "handlers.chats.router",
    "handlers.chats.processor",
]
# The domain beneath the flows may build a WhatsApp payload (core.whatsapp.payloads: data, no
# I/O), for notices it queues; the adapters that talk to a channel are what must stay out.
CHANNELS = (
    "aiogram",
    "handlers.telegram",
    "handlers.whatsapp",
    "handlers.sms",
    "workers.",
    "bot.",
    "web.",
)


def test_flows_and_the_chat_router_import_no_channel():
    program = (
        "import importlib, json, sys\n"
        f"for name in {FLOWS!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(out.stdout)
    assert not [m for m in loaded if m.startswith(CHANNELS) or m in ("bot", "web")]
