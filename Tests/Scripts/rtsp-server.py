#!/usr/bin/env python3
"""A real RTSP server for Estuary's RTSP pull tests: GStreamer's gst-rtsp-server (Debian packages
python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good and -bad) serving an MPEG-TS file
(H.264 or H.265 + AAC) at rtsp://127.0.0.1:PORT/cam, paced in real time, over TCP and UDP, optionally behind
Basic or Digest authentication. Prints "ready" once it listens; runs until killed.

usage: rtsp-server.py PORT FILE [--video h264|h265] [--user U --password P] [--digest]
"""
import argparse
import signal

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("file")
parser.add_argument("--user")
parser.add_argument("--password")
parser.add_argument("--digest", action="store_true")
parser.add_argument("--video", choices=["h264", "h265"], default="h264")
args = parser.parse_args()

Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(str(args.port))

factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f"( filesrc location={args.file} ! tsdemux name=d "
    f"d. ! queue ! {args.video}parse config-interval=-1 ! rtp{args.video}pay name=pay0 pt=96 "
    "d. ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97 )"
)
factory.set_shared(False)

if args.user:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "viewer")
    if args.digest:
        auth.add_digest(args.user, args.password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    else:
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
    server.set_auth(auth)
    factory.add_role_from_structure(
        Gst.Structure.new_from_string("viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true")
    )

server.get_mount_points().add_factory("/cam", factory)
server.attach(None)
loop = GLib.MainLoop()
# GLib's loop would otherwise keep SIGTERM from ending the process.
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
print("ready", flush=True)
loop.run()
