"""The FFmpeg argv for one clip, derived from profile, codec, container and fps mode.

Encoder settings are chosen for byte-identical output run to run (see
docs/BENCHMARKS.md): bitexact flags everywhere, encoder threads fixed per profile,
accurate-rounding scaler, no source metadata copied. The picture chain is
fixed per source kind (docs/MEDIA.md): field-aware deinterlace for interlaced
sources, scale, an explicit constant rate (the VFR rule), square pixels.
"""

from __future__ import annotations

from fractions import Fraction
from math import lcm

from proxx.content import colour
from proxx.content.jobplan import ClipPlan, JobPlan
from proxx.content.media import ProbeFacts
from proxx.content.pictures import demuxer_of
from proxx.contract.naming import partial_path
from proxx.contract.profiles import FORCED_RATES, PROFILES, VideoEncoder

from ..expect import Expected, fps_text, retime_timecode

# Each FFmpeg profile's video-encoder arguments, threading included: proxx/contract/profiles.py
# owns them (two profiles of one codec may differ) and derives the published quality text
# from them.
_VIDEO: dict[str, list[str]] = {
    p.name: list(p.encoding.argv()) for p in PROFILES.values() if not isinstance(p.encoding, str)
}
AAC_BITRATE_PER_CHANNEL = 96_000


DEINTERLACE = "bwdif=mode=send_frame:parity=auto:deint=all"


def expected_output(
    codec: str, profile: str, fps_mode: str, source: ProbeFacts, container: str | None = None
) -> Expected:
    """What the proxy must be; `container` matters only for a picture that starts late."""
    video = source.video
    rate_kept = source.conform_rate()
    assert video is not None and video.frame_rate is not None and rate_kept is not None
    width, height = PROFILES[profile].size.target(*source.display_size())
    src_rate = Fraction(video.frame_rate)
    rate = FORCED_RATES.get(fps_mode, rate_kept)
    timecode = retime_timecode(source.timecode, src_rate, rate)
    frames = source.frame_count_at_rate(rate)
    lead = _held_frames(source, rate, container)
    encoding = _encoder(profile)
    kept = colour.carried(video.colour, encoding.encoder, container or "")
    return Expected(
        codec=codec,
        width=width,
        height=height,
        rate=rate,
        frames=None if frames is None else frames + lead,
        frames_exact=source.frame_count_exact and rate == src_rate,
        audio_channels=tuple(a.channels or 0 for a in source.audio),
        timecode=timecode,
        reel_name=source.reel_name if timecode else None,
        progressive=source.interlaced,
        colour=kept.expected,
        notes=_notes(source, src_rate, rate, timecode)
        + kept.notes
        + _depth_notes(source, encoding)
        + (
            (
                f"the picture starts {float(source.video_lead()):.3f} s after the sound; MXF has "
                f"no edit list, so the proxy holds its first picture for {lead} frames",
            )
            if lead
            else ()
        ),
    )


def _encoder(profile: str) -> VideoEncoder:
    encoding = PROFILES[profile].encoding
    assert isinstance(encoding, VideoEncoder)  # an FFmpeg profile
    return encoding


def _held_frames(source: ProbeFacts, rate: Fraction, container: str | None) -> int:
    """Frames FFmpeg adds before a late-starting picture (MXF only, see build_argv).

    FFmpeg's constant-rate output repeats the first picture to cover the gap:
    gap × rate frames, rounded half to even (llrint), as Python's round does.
    """
    return round(source.video_lead() * rate) if container == "mxf" else 0


def _notes(
    source: ProbeFacts, src_rate: Fraction, rate: Fraction, timecode: str | None
) -> tuple[str, ...]:
    video = source.video
    assert video is not None
    notes = []
    if video.hidden_frames:
        holes = (video.edit_frames or 0) - (video.shown_frames or 0)
        filled = f" ({holes} missing picture(s) in the kept range repeated)" if holes else ""
        notes.append(
            f"edit list applied: {video.hidden_frames} stored frames are hidden by "
            f"the source's edit list; the proxy has the {source.frame_count()} frames "
            f"a player shows{filled}"
        )
    if source.variable_rate:
        avg = Fraction(video.avg_frame_rate or video.frame_rate or 0)
        notes.append(
            f"variable frame rate source (nominal {fps_text(src_rate)}, average "
            f"{float(avg):.3f} fps) rendered at a constant {fps_text(rate)} fps; same "
            "duration, frames = duration × rate"
        )
    elif rate != src_rate:
        notes.append(f"frame rate forced from {fps_text(src_rate)} to {fps_text(rate)} fps")
    if source.interlaced:
        notes.append(
            f"interlaced source (field order {video.field_order}) deinterlaced "
            "field-aware (bwdif, one frame per frame: count and rate kept); the proxy "
            "is progressive"
        )
    if timecode and timecode != source.timecode:
        notes.append(
            f"start timecode {source.timecode} re-expressed as {timecode} at {fps_text(rate)} fps"
        )
    return tuple(notes)


def _depth_notes(source: ProbeFacts, encoding: VideoEncoder) -> tuple[str, ...]:
    """What the profile's pixel format cannot keep: alpha, bit depth (HDR bands at 8 bits)."""
    video = source.video
    assert video is not None
    notes = []
    if video.alpha:
        notes.append(
            f"alpha not kept: the source's {video.pix_fmt} has an alpha plane; every "
            f"proxy profile is opaque ({encoding.pix_fmt})"
        )
    depth = _bits(encoding.pix_fmt)
    if video.bit_depth and video.bit_depth > depth:
        hdr = video.colour.transfer in colour.HDR_TRANSFERS or video.colour.primaries == "bt2020"
        why = f" ({video.colour.transfer or video.colour.primaries}: may band)" if hdr else ""
        notes.append(
            f"{video.bit_depth}-bit source rendered at {depth} bits ({encoding.pix_fmt}){why}; "
            "the colour tags are kept"
        )
    return tuple(notes)


def _bits(pix_fmt: str) -> int:
    """Bits per sample of the profiles' pixel formats (yuv420p, yuv422p, yuv422p10le)."""
    digits = pix_fmt.removesuffix("le").removesuffix("be").rstrip("p")
    tail = digits[len(digits.rstrip("0123456789")) :]
    return int(tail) if pix_fmt.endswith(("le", "be")) and tail else 8


def build_argv(plan: JobPlan, clip: ClipPlan, ffmpeg: str = "ffmpeg") -> list[str]:
    """One clip's command: input, picture chain, encoders, output at the partial name."""
    exp = expected_output(
        plan.codec, plan.proxy_profile, plan.fps_mode, clip.source, plan.container
    )
    # -xerror: a damaged source (e.g. truncated, index intact) makes FFmpeg log an
    # error yet exit 0 with a short proxy; with it, FFmpeg stops and exits non-zero.
    # -f: the demuxer the probe saw and the allow-list passed (proxx.content.pictures),
    # so FFmpeg cannot probe the bytes again into another one (tty, a playlist);
    # -protocol_whitelist: the input is a local file, nothing it names is fetched.
    return [
        ffmpeg,
        *("-nostdin", "-hide_banner", "-loglevel", "error", "-n", "-xerror"),
        *_input(clip.source),
        *("-i", clip.source_path),
        # The picture by its index (a cover picture may come first: ProbeFacts.video).
        *("-map", f"0:{_picture(clip.source)}", "-map", "0:a?"),
        *("-map_metadata", "-1", "-map_chapters", "-1"),
        *("-vf", ",".join(_filters(clip.source, exp, _tags(plan, clip.source), plan.container))),
        *_VIDEO[plan.proxy_profile],
        *_timing(plan.container, exp, clip.source),
        *_audio(plan.codec, clip.source, exp, plan.container),
        *("-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"),
        *("-f", plan.container, partial_path(clip.output_path, plan.job_id)),
    ]


def _picture(source: ProbeFacts) -> int:
    video = source.video
    assert video is not None
    return video.index


def _tags(plan: JobPlan, source: ProbeFacts) -> str | None:
    """The setparams filter that tags the frames with the colour the profile can carry."""
    video = source.video
    assert video is not None
    encoder = _encoder(plan.proxy_profile).encoder
    return colour.setparams(colour.carried(video.colour, encoder, plan.container).written)


def _input(source: ProbeFacts) -> list[str]:
    demuxer = demuxer_of(source.format_name)
    assert demuxer is not None  # routing refuses a source whose demuxer is not allowed
    return ["-f", demuxer, "-protocol_whitelist", "file"]


def _off_grid(source: ProbeFacts, rate: Fraction) -> bool:
    """The picture starts between two frames of `rate` counted from the sound's start.

    The fps filter puts every frame on multiples of 1/rate from FFmpeg's zero (the
    earliest stream), so such a start would move to the nearest frame and the sound
    would be off by up to half a frame (an MPEG-TS whose AAC starts 1024 samples
    early; a pre-roll of 0.4 s at 23.976). The probe's start times are floats: a
    start within a ten-thousandth of a frame of the grid is on it."""
    frames = source.video_lead() * rate
    return abs(frames - round(frames)) > Fraction(1, 10_000)


def _sync_timebase(rate: Fraction) -> Fraction:
    """A video timebase holding both a whole frame of `rate` and a 48 kHz sample."""
    return Fraction(1, lcm(rate.numerator, 48_000))


def _filters(
    source: ProbeFacts, exp: Expected, tags: str | None = None, container: str = "mov"
) -> list[str]:
    """The picture chain: deinterlace (interlaced only), scale, constant rate, square pixels,
    colour tags."""
    filters = []
    if source.interlaced:
        # Both fields of each frame are used (one output frame per input frame, so
        # frame count and rate stay those of the source); the parity comes from
        # each decoded frame, as a player takes it. Scaling interlaced frames
        # would blend the fields of two instants into combing.
        filters.append(DEINTERLACE)
    filters.append(f"scale={exp.width}:{exp.height}:flags=bicubic+accurate_rnd+full_chroma_int")
    # Always an explicit constant rate: left to itself FFmpeg renders a variable-rate
    # source at the demuxer's guessed rate (a timebase multiple such as 120). The
    # filter also fills the hole a copy-trim leaves where it cut a B-frame.
    shift = container != "mxf" and _off_grid(source, exp.rate)
    if shift:
        # The sync rule (docs/MEDIA.md §3b): the frames are made on a grid that starts
        # with the picture, then moved to the picture's own start in a timebase fine
        # enough for it (the container writes it as its edit list).
        filters.append("setpts=PTS-STARTPTS")
    filters.append(f"fps={exp.rate.numerator}/{exp.rate.denominator}")
    if shift:
        tb = _sync_timebase(exp.rate)
        filters.append(f"settb={tb.numerator}/{tb.denominator}")
        filters.append(f"setpts=PTS+{round(source.video_lead() / tb)}")
    filters.append("setsar=1")
    if source.interlaced:
        filters.append("setfield=prog")
    if tags is not None:
        filters.append(tags)
    return filters


def _timing(container: str, exp: Expected, source: ProbeFacts) -> list[str]:
    """Output timing: where a late picture starts, and the start timecode (and reel)."""
    args = []
    if container != "mxf" and _off_grid(source, exp.rate):
        # The encoder's default timebase (1/rate) would round the start back to a frame.
        # The movie timescale (FFmpeg's default 1000) writes the edit list's empty edit,
        # the picture's start: 21.333 ms would round to 21.
        tb = _sync_timebase(exp.rate)
        args += ["-enc_time_base:v", f"{tb.numerator}/{tb.denominator}"]
        args += ["-movie_timescale", str(tb.denominator)]
    if container != "mxf":
        # The fps filter already made the rate constant. Passthrough keeps a late
        # picture (a MOV empty edit: sound first) starting late, written as an edit
        # list, instead of FFmpeg holding the first picture to fill the gap. MXF has
        # no edit list: there the gap is filled (expected_output counts it).
        args += ["-fps_mode:v", "passthrough"]
    if exp.timecode:
        args += ["-timecode", exp.timecode]
        if exp.reel_name and container == "mov":
            args += ["-metadata:s:v:0", f"reel_name={exp.reel_name}"]
    return args


def _audio(codec: str, source: ProbeFacts, exp: Expected, container: str) -> list[str]:
    if not source.audio:
        return []
    args = _mxf_sync(source, exp.rate) if container == "mxf" else []
    if codec in ("h264", "hevc"):
        args += ["-c:a", "aac", "-ar", "48000"]
        for i, stream in enumerate(source.audio):
            args += [f"-b:a:{i}", str(AAC_BITRATE_PER_CHANNEL * max(1, stream.channels or 1))]
        return args
    return [*args, "-c:a", "pcm_s16le", "-ar", "48000"]


def _mxf_sync(source: ProbeFacts, rate: Fraction) -> list[str]:
    """The sound moved with an MXF picture whose start was rounded to a frame.

    MXF has no edit list: both tracks start at zero and the first picture is held for
    round(lead × rate) frames, so a lead between frames would put the picture up to
    half a frame late or early against its sound; the sound is moved by the same."""
    if not _off_grid(source, rate):
        return []
    moved = Fraction(_held_frames(source, rate, "mxf")) / rate - source.video_lead()
    args = []
    # In samples at each stream's own rate: adelay reads milliseconds as a C float and
    # truncates (17.083 ms at 48 kHz is 819 samples, not 820).
    for i, stream in enumerate(source.audio):
        samples = round(abs(moved) * (stream.sample_rate or 48_000))
        graph = (
            f"adelay=delays={samples}S:all=1"
            if moved > 0
            else f"atrim=start_sample={samples},asetpts=PTS-STARTPTS"
        )
        args += [f"-filter:a:{i}", graph]
    return args
