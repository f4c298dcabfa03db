# Cookies and extra response headers, one of them smuggling a second header through CR/LF.
from mod_pywebsocket import msgutil


def web_socket_do_extra_handshake(request):
    request.extra_headers.append(("Set-Cookie", "ws_test=cookie; Path=/"))
    request.extra_headers.append(("Set-Cookie", "ws_http_only=1; HttpOnly\r\nX-Injected: by-a-test-handler"))
    request.extra_headers.append(("Cross-Origin-Embedder-Policy", "require-corp"))
    request.extra_headers.append(("Cross-Origin-Resource-Policy", "cross-origin"))


def web_socket_transfer_data(request):
    msgutil.send_message(request, request.headers_in.get("cookie") or "(no cookie)")
