"""Buffered random ids: the format of the stdlib's, never repeated across calls, threads or a fork."""

from __future__ import annotations

import os
import threading
import uuid

from llm_provider_service.domain import ids


def test_uuid4_is_a_canonical_version_4_uuid() -> None:
    for _ in range(300):  # spans a refill of the buffer
        text = ids.uuid4()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_token_hex_has_the_asked_length() -> None:
    assert len(ids.token_hex(8)) == 16
    assert len(ids.token_hex()) == 32
    assert len(ids.random_bytes(5000)) == 5000  # larger than one buffer


def test_ids_do_not_repeat_within_or_across_threads() -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def draw() -> None:
        mine = [ids.token_hex(16) for _ in range(2000)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == len(seen) == 8000


def test_a_forked_child_does_not_reuse_the_parents_buffer() -> None:
    ids.token_hex(16)  # the parent has a partly used buffer now
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write_end, ids.token_hex(16).encode())
        os._exit(0)
    os.close(write_end)
    child = os.read(read_end, 64).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child != ids.token_hex(16)
