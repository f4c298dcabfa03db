# A slow handshake: sleeps ?seconds (default 2) before accepting.
import time
import urllib.parse

from mod_pywebsocket import msgutil


def web_socket_do_extra_handshake(request):
    query = urllib.parse.urlsplit(request.unparsed_uri).query
    time.sleep(float(urllib.parse.parse_qs(query).get("seconds", ["2"])[0]))


def web_socket_transfer_data(request):
    msgutil.send_message(request, "awake")
    msgutil.receive_message(request)
