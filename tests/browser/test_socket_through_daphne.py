"""Bad frames through the real server (Daphne), as a browser sends them.

The consumer tests use Channels' communicator; these catch what only the real
WebSocket server enforces (for instance which close codes it may send).
"""

import pytest

OVERSIZED = """() => new Promise((resolve) => {
  const ws = new WebSocket(`ws://${location.host}/ws/`);
  const frames = [];
  ws.onmessage = (message) => {
    const frame = JSON.parse(message.data);
    frames.push(frame.type + (frame.code ? ":" + frame.code : ""));
    if (frame.type === "hello") ws.send(JSON.stringify({type: "ping", pad: "é".repeat(40000)}));
  };
  ws.onclose = (event) => resolve({code: event.code, frames});
})"""

GARBAGE_THEN_PING = """() => new Promise((resolve) => {
  const ws = new WebSocket(`ws://${location.host}/ws/`);
  const frames = [];
  ws.onmessage = (message) => {
    const frame = JSON.parse(message.data);
    frames.push(frame.type + (frame.code ? ":" + frame.code : ""));
    if (frame.type === "hello") {
      ws.send("{not json");
      ws.send(JSON.stringify({type: "teleport"}));
      ws.send(JSON.stringify({type: "subscribe", streams: ["user:999999"]}));
      ws.send(JSON.stringify({type: "ping", id: 7}));
    }
    if (frame.type === "pong") { ws.close(); resolve(frames); }
  };
})"""


@pytest.mark.browser
def test_oversized_frame_is_refused_with_4413_through_daphne(live_hub, page, login):
    login(page, "lea")
    result = page.evaluate(OVERSIZED)
    assert result == {"code": 4413, "frames": ["hello", "error:frame_too_big"]}


@pytest.mark.browser
def test_garbage_frames_get_errors_and_the_socket_keeps_serving(live_hub, page, login):
    login(page, "lea")
    assert page.evaluate(GARBAGE_THEN_PING) == [
        "hello",
        "error:invalid_json",
        "error:unknown_type",
        "error:forbidden",
        "pong",
    ]
