#!/usr/bin/python3
"""A tiny GTK3 window that offers the files given as arguments as a drag source
(file:// URIs), for the desktop app's real drag-and-drop test under Xvfb. Placed at
x=900, y=100, 240x240, so the test knows where to press."""
import sys
from pathlib import Path

import gi

gi.require_version("Gdk", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import Gdk, Gtk  # noqa: E402

uris = [Path(p).resolve().as_uri() for p in sys.argv[1:]]
window = Gtk.Window(title="dnd-source")
window.set_default_size(240, 240)
window.move(900, 100)
button = Gtk.Button(label="drag me")
button.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
button.drag_source_add_uri_targets()
button.connect("drag-data-get", lambda _w, _c, data, _i, _t: data.set_uris(uris))
window.add(button)
window.connect("destroy", Gtk.main_quit)
window.show_all()
print("ready", flush=True)
Gtk.main()
