"""What FFmpeg may render: an allow-list of demuxers and video codecs that carry pictures.

FFmpeg opens far more than movies. Its `tty` demuxer takes any text file
(`.nfo`, `.asc`, `.ans`, …) as video (codec `ansi`) and draws its characters into
frames, so a JobSpec naming a file the runner can read, or a symlink to one,
would publish that file as a legible proxy. Playlists (`concat`, `hls`, …) and
image sequences read further files by name. So the probe's demuxer and video
codec must be on these lists before a source is routed to FFmpeg, and the
render names the demuxer the probe saw (`-f`): FFmpeg cannot pick another one
for the same bytes (docs/MEDIA.md, "What FFmpeg may read").

The names are FFmpeg's (`ffmpeg -demuxers`, `ffmpeg -decoders`); a demuxer is
known by the first of its comma-separated names ("mov,mp4,m4a,3gp,3g2,mj2" is
`mov`), which is also what `-f` takes.
"""

from __future__ import annotations

# Movie containers and elementary video streams. Left out on purpose: tty (text
# as pictures), every playlist and concatenation demuxer (concat, hls, dash, ffconcat
# scripts, m3u8), image sequences and single images (image2, *_pipe: an image
# "proxy" of a document scan is not a clip), lavfi, and raw demuxers that take any
# bytes as samples (rawvideo, pcm, data).
DEMUXERS: frozenset[str] = frozenset(
    {
        "mov",  # mov,mp4,m4a,3gp,3g2,mj2
        "matroska",  # matroska,webm
        "mxf",
        "avi",
        "mpegts",
        "mpeg",  # program streams (VOB, MPG)
        "mpegvideo",  # MPEG-1/2 elementary streams
        "m4v",
        "h264",
        "hevc",
        "dv",
        "flv",
        "asf",
        "gxf",
        "nut",
        "ogg",
        "ivf",
        "yuv4mpegpipe",
    }
)

# Video decoders of camera, editorial and delivery codecs. Left out on purpose:
# ansi, bintext, xbin, idf, tty's codecs (text drawn as pictures), and anything
# else that renders characters or arbitrary bytes as an image.
VIDEO_CODECS: frozenset[str] = frozenset(
    {
        "h264",
        "hevc",
        "prores",
        "dnxhd",
        "mpeg1video",
        "mpeg2video",
        "mpeg4",
        "mjpeg",
        "jpeg2000",
        "vp8",
        "vp9",
        "libvpx-vp9",
        "av1",
        "libdav1d",
        "libaom-av1",
        "ffv1",
        "ffvhuff",
        "huffyuv",
        "utvideo",
        "magicyuv",
        "rawvideo",
        "v210",
        "v410",
        "r210",
        "dvvideo",
        "cfhd",
        "qtrle",
        "hap",
        "theora",
        "vc1",
        "wmv3",
        "h263",
        "png",
        "dirac",
    }
)


def demuxer_of(format_name: str | None) -> str | None:
    """The name `-f` takes for the demuxer a probe reported ("mov,mp4,…" → "mov")."""
    return format_name.split(",")[0] if format_name else None


def refusal(format_name: str | None, video_codec: str | None) -> str | None:
    """Why FFmpeg may not render this source, or None when both names are allowed."""
    demuxer = demuxer_of(format_name)
    if demuxer not in DEMUXERS:
        return (
            f"demuxer {demuxer or '(none)'} is not on Proxx's list of movie formats "
            "(docs/MEDIA.md, 'What FFmpeg may read'): text, playlists and image "
            "sequences are refused"
        )
    if video_codec not in VIDEO_CODECS:
        return (
            f"video codec {video_codec or '(none)'} is not on Proxx's list of picture "
            "codecs (docs/MEDIA.md, 'What FFmpeg may read')"
        )
    return None
