#!/usr/bin/env bash
# noVNC through ws-listen: ptybridge replaces websockify in front of a VNC server
# (QEMU -vnc :0 listens on 5900). Not run in CI: needs a VNC server and noVNC's files
# (Debian: apt-get install novnc → /usr/share/novnc).
set -euo pipefail
cd "$(dirname "$0")/.."
PTYB=${PTYBRIDGE:-"node dist/ptybridge.mjs"}
VNC=${1:-127.0.0.1:5900}
PORT=${2:-6080}
NOVNC=${NOVNC:-/usr/share/novnc}
# The token is chosen here and handed over in the environment, out of `ps`; noVNC presents
# it on its own WebSocket from its path= (websockify?token=…, URL-encoded). URL-safe base64.
export PTYBRIDGE_TOKEN=${PTYBRIDGE_TOKEN:-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')}
echo "open http://127.0.0.1:$PORT/vnc.html?path=websockify%3Ftoken%3D$PTYBRIDGE_TOKEN&autoconnect=true"
# Each browser gets its own VNC connection (per-peer), framed as websockify does.
exec $PTYB "ws-listen:$PORT?static=$NOVNC&web=off" "tcp:$VNC"
