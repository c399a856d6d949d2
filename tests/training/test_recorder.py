"""esrgan_jax/training/recorder.py: metrics.jsonl rows exactly as written (keys in order, values as floats, wall
and CPU seconds from the run's start), appended on resume and read back without a killed run's unfinished line;
the TensorBoard event files, read back by a TFRecord reader written here (lengths and masked CRC32C checked,
events parsed with tensorboardX's own protobuf); curves.png's size and content; the progress bar's postfix."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from PIL import Image

from esrgan_jax.training import recorder
from esrgan_jax.training.recorder import Recorder, format_postfix, plot_curves, progress_bar, read_metrics


def _crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli, reflected 0x82F63B78), bit by bit."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_scalars(workdir) -> list[tuple[str, int, float]]:
    """(tag, step, value) of every scalar in WORKDIR/tensorboard's event files, in file then write order."""
    from tensorboardX.proto.event_pb2 import Event

    out = []
    for path in sorted((workdir / "tensorboard").glob("events.out.tfevents.*")):
        data, pos, events = path.read_bytes(), 0, []
        while pos < len(data):
            header = data[pos : pos + 8]
            (length,), (header_crc,) = struct.unpack("<Q", header), struct.unpack("<I", data[pos + 8 : pos + 12])
            body = data[pos + 12 : pos + 12 + length]
            (body_crc,) = struct.unpack("<I", data[pos + 12 + length : pos + 16 + length])
            assert (header_crc, body_crc) == (_masked(_crc32c(header)), _masked(_crc32c(body))), path
            events.append(Event.FromString(body))
            pos += 16 + length
        assert events[0].file_version == "brain.Event:2"
        out += [(v.tag, e.step, v.simple_value) for e in events[1:] for v in e.summary.value]
    return out


@pytest.fixture
def clock(monkeypatch):
    """perf_counter and process_time from lists: the recorder's start, then one value per written row."""
    ticks = {"perf_counter": [100.0, 101.234, 163.0], "process_time": [5.0, 7.5, 9.004]}
    for name, values in ticks.items():
        it = iter(values)
        monkeypatch.setattr(recorder.time, name, lambda it=it, last=values[-1]: next(it, last))


def test_jsonl_rows_exactly_as_written(tmp_path, clock):
    rec = Recorder(tmp_path)
    rec.write(np.int64(1), "train", {"l_g_pix": np.float32(0.25), "l_g_gan": 3})
    rec.write(2, "val", {"psnr_y": 27.25})
    rec.close()
    assert (tmp_path / "metrics.jsonl").read_text() == (
        '{"step": 1, "split": "train", "l_g_pix": 0.25, "l_g_gan": 3.0, "wall_s": 1.23, "cpu_s": 2.5}\n'
        '{"step": 2, "split": "val", "psnr_y": 27.25, "wall_s": 63.0, "cpu_s": 4.0}\n'
    )
    assert read_scalars(tmp_path) == [("train/l_g_pix", 1, 0.25), ("train/l_g_gan", 1, 3.0), ("val/psnr_y", 2, 27.25)]


def _two_runs(workdir) -> None:
    first = Recorder(workdir)
    first.write(1, "train", {"l_g_pix": 0.5})
    first.close()
    again = Recorder(workdir)
    again.write(2, "train", {"l_g_pix": 0.375})
    again.close()


def test_a_run_started_again_within_the_second_keeps_the_first_runs_events(tmp_path):
    _two_runs(tmp_path)
    assert read_scalars(tmp_path) == [("train/l_g_pix", 1, 0.5), ("train/l_g_pix", 2, 0.375)]


def test_a_resumed_run_appends_to_both(tmp_path, monkeypatch):
    first = Recorder(tmp_path)
    first.write(1, "train", {"l_g_pix": 0.5})
    first.close()
    real = recorder.time.time
    monkeypatch.setattr(recorder.time, "time", lambda: real() + 10)  # resumed later: its own event file
    again = Recorder(tmp_path)
    again.write(2, "train", {"l_g_pix": 0.375})
    again.write(2, "val", {"psnr_y": 30.5, "lpips": 0.125})
    again.close()
    rows = read_metrics(tmp_path)
    assert [{k: v for k, v in r.items() if k not in ("wall_s", "cpu_s")} for r in rows] == [
        {"step": 1, "split": "train", "l_g_pix": 0.5},
        {"step": 2, "split": "train", "l_g_pix": 0.375},
        {"step": 2, "split": "val", "psnr_y": 30.5, "lpips": 0.125},
    ]
    assert all(r["wall_s"] >= 0 and r["cpu_s"] >= 0 for r in rows)
    assert len(list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))) == 2
    assert sorted(read_scalars(tmp_path)) == [
        ("train/l_g_pix", 1, 0.5), ("train/l_g_pix", 2, 0.375), ("val/lpips", 2, 0.125), ("val/psnr_y", 2, 30.5)
    ]  # fmt: skip


def test_read_metrics_skips_an_unfinished_last_line(tmp_path):
    assert read_metrics(tmp_path) == []  # no file yet
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "split": "train", "l": 1.0}\n{"step": 2, "spl')
    assert read_metrics(tmp_path) == [{"step": 1, "split": "train", "l": 1.0}]


def test_a_run_resumed_after_a_kill_mid_line_keeps_its_first_row(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "split": "train", "l": 1.0}\n{"step": 2, "spl')
    rec = Recorder(tmp_path)
    rec.write(2, "val", {"psnr_y": 30.0})
    rec.close()
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2]


def test_a_disabled_recorder_writes_nothing(tmp_path):
    rec = Recorder(tmp_path, enabled=False)
    rec.write(1, "train", {"l_g_pix": 0.5})
    rec.close()
    assert list(tmp_path.iterdir()) == []


def test_curves_png_has_one_panel_per_validation_metric(tmp_path):
    rows = [
        {"step": 0, "split": "val", "psnr_y": 25.0, "std_ratio": 0.9, "wall_s": 1.0, "cpu_s": 1.0},
        *({"step": s, "split": "train", "l_g_pix": 1.0 / s, "l_g_gan": 0.7, "d_separated": 1.0} for s in (1, 2, 3)),
        {"step": 3, "split": "val", "psnr_y": float("nan"), "std_ratio": 0.8},  # not finite: left out, no error
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = plot_curves(tmp_path)
    assert out == tmp_path / "curves.png" and sorted(p.name for p in tmp_path.iterdir()) == ["curves.png",
        "metrics.jsonl"]  # fmt: skip
    with Image.open(out) as im:
        assert (im.format, im.size) == ("PNG", (3 * 450, 350))  # training losses, psnr_y, std_ratio; 100 dpi
        pixels = np.asarray(im.convert("L"))
    assert pixels.std() > 10  # axes and lines drawn, not a blank image
    (tmp_path / "metrics.jsonl").write_text(json.dumps(rows[1]) + "\n")  # training rows only
    with Image.open(plot_curves(tmp_path)) as im:
        assert im.size == (450, 350)


def test_progress_bar_and_postfix(capsys):
    assert format_postfix(1.23456, {"l_g_pix": 0.0123456, "l_d_real": 12345.0, "psnr_y": 3.0}) == {
        "epoch": "1.23", "l_g_pix": "0.0123", "l_d_real": "1.23e+04"
    }  # fmt: skip
    bar = progress_bar(10, 4, enabled=False)  # processes other than the lead's
    assert (bar.total, bar.n, bar.disable) == (10, 4, True)
    bar.close()
    bar = progress_bar(10, 4)
    bar.update(2)
    assert (bar.total, bar.n, bar.desc, bar.unit, bar.disable) == (10, 6, "train", "step", False)
    bar.close()
    assert "train:  60%" in capsys.readouterr().err
