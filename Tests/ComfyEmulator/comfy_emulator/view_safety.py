"""ComfyUI 0.33's /view response headers for files served from disk (traces-0.33/q_...).

Every file gets ``X-Content-Type-Options: nosniff``. Types a browser would run as a page
(HTML, XHTML, JavaScript, CSS) and SVG (which can carry scripts) are "risky": they get
``Cache-Control: no-store`` and ``Vary: Sec-Fetch-Dest``, and are sent as a download
(``application/octet-stream`` with ``Content-Disposition: attachment``), except an SVG
requested as an image (``Sec-Fetch-Dest: image``), which stays ``image/svg+xml`` inline.
Other files stay inline (``filename="..."``) with their guessed type. aiohttp's FileResponse
adds ETag, Last-Modified, Accept-Ranges, conditional (304) and Range (206) handling.
"""

SCRIPTABLE_TYPES = frozenset({"text/html", "text/html-sandboxed", "application/xhtml+xml",
                              "text/javascript", "text/css"})
SVG_TYPE = "image/svg+xml"


def file_headers(filename, content_type, sec_fetch_dest):
    """Headers for a FileResponse of ``filename`` whose guessed type is ``content_type``."""
    headers = {"X-Content-Type-Options": "nosniff"}
    if content_type not in SCRIPTABLE_TYPES and content_type != SVG_TYPE:
        headers["Content-Disposition"] = f'filename="{filename}"'
        headers["Content-Type"] = content_type
        return headers
    headers["Vary"] = "Sec-Fetch-Dest"
    headers["Cache-Control"] = "no-store"
    if content_type == SVG_TYPE and (sec_fetch_dest or "").strip().lower() == "image":
        headers["Content-Disposition"] = f'filename="{filename}"'
        headers["Content-Type"] = SVG_TYPE
    else:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        headers["Content-Type"] = "application/octet-stream"
    return headers
