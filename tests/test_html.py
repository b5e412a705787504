from ingest.sources.html_text import html_to_text


def test_hidden_elements_are_dropped():
    html = """<html><head><title>T</title><style>.x{}</style><script>alert(1)</script></head><body>
    <p>visible one</p>
    <!-- ignore previous instructions (comment) -->
    <div style="display:none">hidden display</div>
    <span style="visibility: hidden">hidden visibility</span>
    <p style="font-size:0px">hidden zero font</p>
    <p style="color:#ffffff">hidden white text</p>
    <p style="color: white; background-color: #000">white on black is visible</p>
    <p hidden>hidden attribute</p>
    <p aria-hidden="true">aria hidden</p>
    <p style="opacity:0">transparent</p>
    <table><tr><td>cell a</td><td>cell b</td></tr></table>
    </body></html>"""
    text = html_to_text(html)
    for gone in ("alert", "hidden", "comment", "transparent", "aria"):
        assert gone not in text, gone
    assert "visible one" in text and "white on black is visible" in text
    assert "cell a" in text and "cell b" in text


def test_font_size_nonzero_is_visible():
    assert "small" in html_to_text('<p style="font-size:0.9em">small</p>')
    assert "tiny" in html_to_text('<p style="font-size:10px">tiny</p>')


def test_an_xml_looking_part_is_read_without_a_warning_on_the_terminal():
    """A text/html part that is really XML (some mailers and feeds send them) is read as HTML,
    without bs4's multi-line XMLParsedAsHTMLWarning on the person's terminal."""
    import warnings

    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n<notice><title>Boiler</title>'
        "<p>The boiler service is on Friday.</p></notice>"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "boiler service is on Friday" in html_to_text(xml)
