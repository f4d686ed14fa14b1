"""Colour maps, gradients, and every background path of the output image."""
import logging

import numpy as np
import pytest
from PIL import Image

import heatmap as hm

DEFAULT_TABLE = hm._hsva_table(hm._parse_hsva("000ffff00"), hm._parse_hsva("02affffff"))


# ---- -m / -M hsva hex ----
@pytest.mark.parametrize("text,expected", [
    ("02affffff", (42 / 256, 255 / 256, 255 / 256, 255 / 256)),
    ("000ffff00", (0.0, 255 / 256, 255 / 256, 0.0)),
    ("#1000840c0", (256 / 256, 8 / 256, 64 / 256, 192 / 256)),
    ("FFF000000", (4095 / 256, 0.0, 0.0, 0.0)),
])
def test_parse_hsva(text, expected):
    assert hm._parse_hsva(text) == expected


@pytest.mark.parametrize("text", ["02afffff", "02affffff0", "02affffgg", "", "#", "0x2afffff"])
def test_parse_hsva_rejects(text):
    with pytest.raises(hm.HeatmapError, match="not 9 hex digits"):
        hm._parse_hsva(text)


def test_default_table_ends():
    # by hand: hsv_to_rgb(0, .996, .996) = (.996, .0039, .0039); int(x * 255) -> 254, 0, 0
    assert DEFAULT_TABLE.shape == (256, 4) and DEFAULT_TABLE.dtype == np.uint8
    assert DEFAULT_TABLE[0].tolist() == [254, 0, 0, 0]
    # hue 42/256: sector 0, f = .984375, t = v (1 - s (1 - f)) = .98059 -> 250
    assert DEFAULT_TABLE[-1].tolist() == [254, 250, 0, 254]
    # the middle row: hue 21/256, alpha int(127/255 * 255/256 * 255) = 126
    assert DEFAULT_TABLE[127].tolist()[3] == 126
    assert np.all(np.diff(DEFAULT_TABLE[:, 3].astype(int)) >= 0)


@pytest.mark.parametrize("low,high,row", [
    ((0.25, 1, 1, 1), (0.25, 1, 1, 1), [127, 255, 0, 255]),     # hsv(1/4): (.5, 1, 0)
    ((1.25, 1, 1, 1), (1.25, 1, 1, 1), [127, 255, 0, 255]),     # hue taken modulo 1
    ((2.0, 1, 1, 1), (2.0, 1, 1, 1), [255, 0, 0, 255]),
    ((0.5, 0, 0.5, 0.5), (0.5, 0, 0.5, 0.5), [127, 127, 127, 127]),
])
def test_constant_tables(low, high, row):
    table = hm._hsva_table(low, high)
    assert (table == np.array(row, np.uint8)).all()


def test_hue_wraps_around():
    low, high = hm._parse_hsva("0e6ffffff"), hm._parse_hsva("11affffff")  # 0.898 .. 1.102
    table = hm._hsva_table(low, high)
    wrapped = hm._hsva_table((low[0] - 1,) + low[1:], (high[0] - 1,) + high[1:])
    assert np.array_equal(table, wrapped)
    # every row stays in the magenta - red - orange part of the wheel: never green dominant
    assert (table[:, 1] < table[:, 0]).all()
    assert table[0, 2] > 0 and table[-1, 2] == 0


# ---- value -> table row ----
@pytest.mark.parametrize("values,most,steps,rows", [
    ([0.0, 1.0, 254.999, 255.0], 255.0, 256, [0, 1, 254, 255]),
    ([0.5, 1.0], 1.0, 256, [127, 255]),
    ([0.6], 3.0, 256, [50]),            # 0.6 / 3 * 255 = 50.99..., not 0.6 * 255 / 3 = 51
    ([0.6], 1.5, 256, [101]),           # 0.6 / 1.5 * 255 = 101.99...
    ([1.0, 2.0, 3.0], 3.0, 4, [1, 2, 3]),
    ([5.0], 0.0, 256, [0]),             # no data anywhere
    ([2.0], 1.0, 256, [255]),           # above the maximum: the last row
    ([-1 / 255], 1.0, 256, [255]),      # -1 counts from the end, like list indexing
    ([-1000.0], 1.0, 256, [0]),         # far below: the first row
])
def test_colour_index(values, most, steps, rows):
    assert hm._colour_index(np.array(values), most, steps).tolist() == rows


def test_heat_rgba_blank_pixels_fully_transparent():
    table = np.arange(16 * 4, dtype=np.uint8).reshape(16, 4) + 1
    rgba = hm._heat_rgba(np.array([[0.0, 1e-9], [0.5, 1.0]]), 1.0, table)
    assert rgba[0, 0].tolist() == [0, 0, 0, 0]
    assert rgba[0, 1].tolist() == table[0].tolist()
    assert rgba[1, 0].tolist() == table[7].tolist()
    assert rgba[1, 1].tolist() == table[15].tolist()


@pytest.mark.parametrize("rgba,colour,expected", [
    ((200, 100, 50, 128), (10, 20, 30), (105, 60, 40)),   # int(c a + bg (1 - a)), a = 128/255
    ((200, 100, 50, 255), (10, 20, 30), (200, 100, 50)),
    ((200, 100, 50, 0), (10, 20, 30), (10, 20, 30)),
    ((255, 255, 255, 1), (0, 0, 0), (1, 1, 1)),
])
def test_blend_on_colour(rgba, colour, expected):
    out = hm._blend_on_colour(np.array([[rgba]], np.uint8), colour)
    assert out.dtype == np.uint8 and out[0, 0].tolist() == list(expected)


@pytest.mark.parametrize("text,rgb", [("black", (0, 0, 0)), ("#102030", (16, 32, 48)),
                                      ("#fff", (255, 255, 255)), ("rgb(1,2,3)", (1, 2, 3))])
def test_parse_colour(text, rgb):
    assert hm._parse_colour(text) == rgb


def test_parse_colour_rejects():
    with pytest.raises(hm.HeatmapError, match="unknown colour 'notacolour'"):
        hm._parse_colour("notacolour")


# ---- -G gradient images ----
def gradient_png(path, column, mode="RGBA", width=2):
    """An image whose rows (top to bottom) are the given colours."""
    image = Image.new(mode, (width, len(column)))
    for y, colour in enumerate(column):
        for x in range(width):
            image.putpixel((x, y), colour)
    image.save(path)
    return str(path)


def test_gradient_table_bottom_row_first(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="heatmap")
    path = gradient_png(tmp_path / "g.png", [(9, 9, 9, 255), (5, 6, 7, 128), (1, 2, 3, 0)])
    table = hm._gradient_table(path)
    assert table.tolist() == [[1, 2, 3, 0], [5, 6, 7, 128], [9, 9, 9, 255]]
    assert caplog.text == ""


def test_gradient_table_warns_about_odd_ends(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="heatmap")
    path = gradient_png(tmp_path / "g.png", [(9, 9, 9, 200), (1, 2, 3, 50)])
    assert hm._gradient_table(path).tolist() == [[1, 2, 3, 50], [9, 9, 9, 200]]
    assert "bottom-left pixel is not fully transparent" in caplog.text
    assert "top-left pixel is not fully opaque" in caplog.text


@pytest.mark.parametrize("mode,colour", [("L", 7), ("LA", (7, 255))])
def test_gradient_must_be_rgba_or_rgb(tmp_path, mode, colour):
    path = gradient_png(tmp_path / "g.png", [colour, colour], mode=mode)
    with pytest.raises(hm.HeatmapError, match="must be RGBA or RGB, not %s" % mode):
        hm._gradient_table(path)


def test_an_rgb_gradient_is_opaque(tmp_path, caplog):
    """ImageMagick's first gradient (convert -size 1x256 gradient:blue-yellow) is RGB."""
    caplog.set_level(logging.WARNING, logger="heatmap")
    path = gradient_png(tmp_path / "g.png", [(255, 255, 0), (0, 0, 255)], mode="RGB")
    assert hm._gradient_table(path).tolist() == [[0, 0, 255, 255], [255, 255, 0, 255]]
    assert caplog.text == ""


def test_gradient_unreadable(write):
    path = write("g.png", b"not a png")
    with pytest.raises(hm.HeatmapError, match="cannot read gradient image"):
        hm._gradient_table(str(path))


def test_gradient_on_the_command_line(run, seattle, pixels, tmp_path):
    # bottom transparent, then every other row opaque blue: heated pixels are all blue
    gradient_png(tmp_path / "g.png", [(0, 0, 255, 255)] * 9 + [(0, 0, 0, 0)])
    assert run("-W", 40, "-G", "g.png", "-o", "out.png", seattle) == (0, "")
    mode, a = pixels("out.png")
    heated = a[..., 3] > 0
    assert mode == "RGBA" and heated.sum() > 50
    assert (a[heated] == [0, 0, 255, 255]).all()


def test_gradient_overrides_hsva(run, seattle, pixels, tmp_path):
    gradient_png(tmp_path / "g.png", [(0, 255, 0, 255), (0, 0, 0, 0)])
    code, err = run("-W", 40, "-G", "g.png", "-m", "0aaffffff", "-o", "a.png", seattle)
    assert code == 0 and "-m/--hsva_min has no effect with -G/--gradient or --colormap" in err
    assert run("-W", 40, "-G", "g.png", "-o", "b.png", seattle) == (0, "")
    assert np.array_equal(pixels("a.png")[1], pixels("b.png")[1])


def test_grey_gradient_rejected_on_the_command_line(run, seattle, tmp_path):
    gradient_png(tmp_path / "g.png", [0, 255], mode="L")
    code, err = run("-W", 40, "-G", "g.png", "-o", "out.png", seattle)
    assert code == 2 and "gradient image must be RGBA or RGB, not L" in err
    assert not (tmp_path / "out.png").exists()


def test_custom_hsva_on_the_command_line(run, seattle, pixels):
    # -m == -M: every heated pixel has the one colour hsv(0x0aa/256 = .664, 1, 1), alpha 127
    assert run("-W", 40, "-m", "0aaffff80", "-M", "0aaffff80", "-o", "out.png", seattle) == (0, "")
    mode, a = pixels("out.png")
    heated = a.any(axis=2)
    expected = hm._hsva_table(hm._parse_hsva("0aaffff80"), hm._parse_hsva("0aaffff80"))[0]
    assert expected.tolist()[3] == 127 and expected.tolist()[2] == 254
    assert heated.sum() > 50 and (a[heated] == expected).all()


@pytest.mark.parametrize("option,value,message", [
    ("-m", "12345", "colour '12345' is not 9 hex digits"),
    ("-M", "zzzzzzzzz", "is not 9 hex digits"),
    ("-b", "nocolour", "unknown colour 'nocolour'"),
])
def test_bad_colours_are_clean_errors(run, seattle, tmp_path, option, value, message):
    code, err = run("-W", 40, option, value, "-o", "out.png", seattle)
    assert code == 2 and message in err
    assert not (tmp_path / "out.png").exists()


# ---- backgrounds ----
def plain_render(run, pixels, seattle, *extra):
    assert run("-W", 40, "-H", 50, *extra, "-o", "heat.png", seattle) == (0, "")
    return pixels("heat.png")[1]


def test_default_background_is_transparent(run, seattle, pixels):
    heat = plain_render(run, pixels, seattle)
    assert heat.shape == (50, 40, 4)
    assert heat[0, 0].tolist() == [0, 0, 0, 0]
    assert (heat[..., 3] == 0).sum() > 100 and (heat[..., 3] > 0).sum() > 50
    assert heat[..., 3].max() == 254   # the hottest pixel: alpha of 'ff' is 255/256


@pytest.mark.parametrize("colour,rgb", [("#102030", (16, 32, 48)), ("black", (0, 0, 0)),
                                        ("white", (255, 255, 255))])
def test_background_colour(run, seattle, pixels, colour, rgb):
    heat = plain_render(run, pixels, seattle)
    assert run("-W", 40, "-H", 50, "-b", colour, "-o", "out.png", seattle) == (0, "")
    mode, out = pixels("out.png")
    assert mode == "RGB" and out.shape == (50, 40, 3)
    blank = ~heat.any(axis=2)
    assert blank.sum() > 100 and (out[blank] == rgb).all()
    alpha = heat[..., 3:4] / 255.0
    want = (heat[..., :3] * alpha + np.array(rgb, float) * (1 - alpha)).astype(np.uint8)
    assert np.array_equal(out, want)


def make_background(tmp_path, name="bg.png", size=(40, 50), mode="RGB", colour=None):
    """A background with a gradient pattern (or one colour)."""
    if colour is not None:
        image = Image.new(mode, size, colour)
    else:
        x = np.arange(size[0])[None, :].repeat(size[1], 0)
        y = np.arange(size[1])[:, None].repeat(size[0], 1)
        rgb = np.stack([x * 5 % 256, y * 4 % 256, (x + y) % 256], 2).astype(np.uint8)
        image = Image.fromarray(rgb, "RGB").convert(mode)
    image.save(tmp_path / name)
    return name


def test_background_image_is_composited(run, seattle, pixels, tmp_path):
    heat = plain_render(run, pixels, seattle)
    make_background(tmp_path)
    assert run("-I", "bg.png", "-o", "out.png", seattle) == (0, "")
    mode, out = pixels("out.png")
    assert mode == "RGB" and out.shape == (50, 40, 3)
    with Image.open(tmp_path / "bg.png") as bg:
        layer = Image.fromarray(heat, "RGBA")
        want = Image.composite(layer, bg.convert("RGB"), layer.getchannel("A"))
    assert np.array_equal(out, np.asarray(want))
    blank = heat[..., 3] == 0
    assert np.array_equal(out[blank], np.asarray(Image.open(tmp_path / "bg.png"))[blank])


def test_background_image_sets_the_size(run, seattle, pixels, tmp_path):
    make_background(tmp_path, size=(33, 21))
    code, err = run("-I", "bg.png", "-W", 100, "-H", 100, "-o", "out.png", seattle)
    assert code == 0 and "-W/--width has no effect with -I" in err and "-H/--height" in err
    assert pixels("out.png")[1].shape == (21, 33, 3)


def test_background_colour_ignored_with_an_image(run, seattle, pixels, tmp_path):
    make_background(tmp_path)
    assert run("-I", "bg.png", "-o", "a.png", seattle) == (0, "")
    code, err = run("-I", "bg.png", "-b", "red", "-o", "b.png", seattle)
    assert code == 0 and "-b/--background has no effect with --osm or -I" in err
    assert np.array_equal(pixels("a.png")[1], pixels("b.png")[1])


@pytest.mark.parametrize("options,colour,expected_mode,expected", [
    (["-B", "0.5"], (100, 50, 201), "RGB", [50, 25, 100]),
    (["-B", "2"], (100, 50, 201), "RGB", [200, 100, 255]),       # clipped at 255
    (["-B", "0"], (100, 50, 201), "RGB", [0, 0, 0]),
    (["-N"], (100, 100, 100), "RGBA", [155, 155, 155, 255]),     # V -> 255 - V
    (["-N"], (0, 0, 0), "RGBA", [255, 255, 255, 255]),
    (["-N"], (255, 0, 0), "RGBA", [0, 0, 0, 255]),
    (["-N", "-B", "0.5"], (100, 100, 100), "RGBA", [155, 155, 155, 255]),  # -N wins
])
def test_background_transforms(run, seattle, pixels, tmp_path, options, colour,
                               expected_mode, expected):
    heat = plain_render(run, pixels, seattle)
    make_background(tmp_path, colour=colour)
    assert run("-I", "bg.png", *options, "-o", "out.png", seattle) == (0, "")
    mode, out = pixels("out.png")
    assert mode == expected_mode
    blank = heat[..., 3] == 0
    assert blank.sum() > 100 and (out[blank] == expected).all()
    assert not (out[~blank] == expected).all()


@pytest.mark.parametrize("colour,options,expected", [
    ((100, 50, 200, 255), [], [100, 50, 200, 255]),
    ((100, 50, 200, 255), ["-B", "0.5"], [50, 25, 100, 255]),    # colour scaled, opacity kept
    ((100, 100, 100, 255), ["-N"], [155, 155, 155, 255]),        # value inverted, opacity kept
], ids=["plain", "brightness", "invert"])
def test_rgba_background_stays_opaque(run, seattle, pixels, tmp_path, colour, options, expected):
    make_background(tmp_path, mode="RGBA", colour=colour)
    assert run("-I", "bg.png", *options, "-o", "out.png", seattle) == (0, "")
    mode, out = pixels("out.png")
    assert mode == "RGBA"
    assert (out[..., 3] == 255).all()
    assert out[0, 0].tolist() == expected


@pytest.mark.parametrize("mode,colour", [("L", 120), ("P", 3)])
def test_grey_and_palette_backgrounds_keep_a_coloured_heat(run, seattle, pixels, tmp_path,
                                                           mode, colour):
    heat = plain_render(run, pixels, seattle)
    make_background(tmp_path, mode=mode, colour=colour)
    assert run("-I", "bg.png", "-o", "out.png", seattle) == (0, "")
    out_mode, out = pixels("out.png")
    assert out_mode == "RGB"
    hottest = np.unravel_index(np.argmax(heat[..., 3]), heat.shape[:2])
    r, g, b = out[hottest].tolist()
    assert not (r == g == b)    # not turned grey


def test_jpeg_output(run, seattle, pixels):
    heat = plain_render(run, pixels, seattle)
    assert run("-W", 40, "-H", 50, "-o", "out.jpg", seattle) == (0, "")
    with Image.open("out.jpg") as image:
        assert image.format == "JPEG" and image.mode == "RGB" and image.size == (40, 50)
    out = pixels("out.jpg")[1]
    # transparent pixels become white; the hottest pixel stays yellow-ish
    blank = ~heat.any(axis=2)
    assert out[blank].mean() > 245
    hottest = np.unravel_index(np.argmax(heat[..., 3]), heat.shape[:2])
    assert out[hottest][2] < 100


@pytest.mark.parametrize("name,fmt", [("out.JPEG", "JPEG"), ("out.gif", "GIF"),
                                      ("out.webp", "WEBP"), ("out.bmp", "BMP")])
def test_other_output_formats(run, seattle, name, fmt):
    if fmt not in Image.SAVE:
        pytest.skip("Pillow cannot write %s here" % fmt)
    assert run("-W", 40, "-o", name, seattle) == (0, "")
    with Image.open(name) as image:
        assert image.format == fmt and image.size[0] == 40


@pytest.mark.parametrize("name", ["out.xyz", "out", "out.mp3"])
def test_unknown_output_extension(run, seattle, tmp_path, name):
    code, err = run("-W", 40, "-o", name, seattle)
    assert code == 2 and "unknown image type" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [seattle]


# ---- colour scales, --colour_max, --colormap (issue 21) ----
def _two_clusters(tmp_path):
    """1000 points in a crowd and 3 faint ones far east, as two.txt and as arrays."""
    rng = np.random.default_rng(4)
    lat = np.r_[rng.normal(47.61, 0.001, 1000), 47.61 + rng.normal(0, 0.0005, 3)]
    lon = np.r_[rng.normal(-122.33, 0.001, 1000), -122.28 + rng.normal(0, 0.0005, 3)]
    np.savetxt(tmp_path / "two.txt", np.column_stack([lat, lon]), fmt="%.6f")
    return np.loadtxt(tmp_path / "two.txt").T


def _faint_alpha(rgba):
    """The most opaque pixel of the right fifth of the picture, where the faint cluster is."""
    return int(rgba[:, -rgba.shape[1] // 5:, 3].max())


@pytest.mark.parametrize("scale,least", [("log", 60), ("eq_hist", 60), ("sqrt", 15)])
def test_log_and_eq_hist_show_a_faint_cluster_linear_hides(run, pixels, tmp_path, scale, least):
    lat, lon = _two_clusters(tmp_path)
    options = dict(width=200, radius=6, decay=1.0)
    linear = _faint_alpha(np.asarray(hm.render(lat, lon, **options)))
    shown = _faint_alpha(np.asarray(hm.render(lat, lon, colour_scale=scale, **options)))
    assert linear <= 4 and shown >= least
    assert run("-W", 200, "-r", 6, "-d", 1, "--colour_scale", scale, "-o", "s.png",
               "two.txt") == (0, "")
    assert _faint_alpha(pixels("s.png")[1]) == shown


def test_colour_max_is_the_top_and_clips(tmp_path):
    lat, lon = _two_clusters(tmp_path)
    grid = hm.render_grid(lat, lon, width=200, radius=6, decay=1.0)
    top = grid.peak / 4
    picture = np.asarray(hm.colour(grid, colour_max=top))
    hot = grid.values >= top
    assert hot.any() and (picture[hot] == DEFAULT_TABLE[-1]).all()
    half = np.asarray(hm.colour(grid._replace(values=grid.values / 2), colour_max=top / 2))
    assert np.array_equal(half, picture)


@pytest.mark.parametrize("top", [1.0, 1e-20])
def test_colour_max_far_below_the_heat_is_the_top_colour(run, write, pixels, top):
    """A share of the top beyond int64 (1e17 over 1) is the top colour, not a clear pixel."""
    write("w.txt", "47.6 -122.3 1e17\n47.7 -122.2 1e17\n")
    assert run("-W", 40, "--colour_max", top, "-o", "a.png", "w.txt") == (0, "")
    rgba = pixels("a.png")[1]
    hot = rgba[..., 3] > 0
    assert (rgba[hot] == DEFAULT_TABLE[-1]).all() and hot.sum() > 10


def test_a_state_file_keeps_the_largest_value_not_colour_max(run, seattle, pixels):
    assert run("-W", 60, "--colour_max", 1, "-S", "s.npz", seattle) == (0, "")
    assert run("-W", 60, "-o", "plain.png", seattle) == (0, "")
    assert run("-L", "s.npz", "-o", "loaded.png") == (0, "")
    assert np.array_equal(pixels("loaded.png")[1], pixels("plain.png")[1])


def test_colour_max_gives_the_frames_one_scale(run, tmp_path, monkeypatch):
    """A pixel keeps its colour from frame to frame while its heat does not change."""
    rng = np.random.default_rng(5)
    lat = np.r_[47.61 + rng.normal(0, 0.001, 5), 47.62 + rng.normal(0, 0.001, 60)]
    lon = np.r_[-122.33 + rng.normal(0, 0.001, 5), -122.30 + rng.normal(0, 0.001, 60)]
    np.savetxt(tmp_path / "p.txt", np.column_stack([lat, lon]), fmt="%.6f")
    options = dict(width=120, radius=4, frequency=5)

    def first_cluster(frames):
        return [f[:, : f.shape[1] // 4] for f in map(np.asarray, frames)]
    own = first_cluster(hm.render_frames(tmp_path / "p.txt", **options))
    assert not np.array_equal(own[0], own[-1])          # each frame its own top: it fades
    shared = first_cluster(hm.render_frames(tmp_path / "p.txt", colour_max=8.0, **options))
    assert all(np.array_equal(shared[0], f) for f in shared) and shared[0][..., 3].any()
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    try:
        hm._find_ffmpeg()
    except hm.HeatmapError:
        pytest.skip("no ffmpeg")
    assert run("-a", "-K", "-W", 120, "-r", 4, "--frequency", 5, "--colour_max", 8, "-o",
               "a.mp4", "p.txt")[0] == 0
    (folder,) = [p for p in tmp_path.glob("heatmap-frames-*")]
    files = sorted(folder.glob("frame-*.png"))
    assert len(files) == 13
    for path, frame in zip(files, shared):
        with Image.open(path) as image:
            assert np.array_equal(first_cluster([image])[0], frame)


def test_colour_max_gives_the_zooms_of_a_pyramid_one_scale(tmp_path):
    lat, lon = _two_clusters(tmp_path)

    def tops(**settings):   # per zoom: does a pixel get the top colour?
        found = {}
        for zoom, _, _, png in hm.render_tiles(lat, lon, tile_zoom=(13, 14), **settings):
            with Image.open(__import__("io").BytesIO(png)) as tile:
                top = (np.asarray(tile.convert("RGBA")) == DEFAULT_TABLE[-1]).all(axis=2).any()
            found[zoom] = found.get(zoom, False) or bool(top)
        return found
    assert tops() == {13: True, 14: True}               # each zoom its own top
    assert tops(colour_max=1e6) == {13: False, 14: False}


def test_state_files_keep_what_recolouring_needs(run, pixels, tmp_path):
    _two_clusters(tmp_path)
    base = ["-W", 200, "-r", 6, "-d", 1]
    assert run(*base, "-S", "s.npz", "two.txt") == (0, "")
    for options in (["--colour_scale", "eq_hist"], ["--colormap", "inferno", "--colour_max", 3]):
        assert run(*base, *options, "-o", "direct.png", "two.txt") == (0, "")
        assert run("-L", "s.npz", *options, "-o", "loaded.png") == (0, "")
        assert np.array_equal(pixels("direct.png")[1], pixels("loaded.png")[1])


@pytest.mark.parametrize("name", hm._COLORMAPS)
def test_shipped_colormaps_are_matplotlibs(name):
    matplotlib = pytest.importorskip("matplotlib")
    expected = matplotlib.colormaps[name](np.linspace(0, 1, 256), bytes=True)
    assert np.array_equal(hm._colormap_table(name), expected)


def test_colormaps_on_the_command_line_and_without_matplotlib(run, seattle, pixels, monkeypatch):
    assert run("-W", 60, "--colormap", "viridis", "-o", "v.png", seattle) == (0, "")
    rgba = pixels("v.png")[1]
    table = {tuple(row) for row in hm._colormap_table("viridis")}
    assert rgba[..., 3].any() and {tuple(p) for p in rgba[rgba[..., 3] > 0]} <= table
    if pytest.importorskip("matplotlib"):
        grey = hm._colormap_table("Greys")
        assert grey.shape == (256, 4) and grey[0, 0] > grey[-1, 0]
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    assert run("-W", 60, "--colormap", "turbo", "-o", "t.png", seattle) == (0, "")
    code, err = run("-W", 60, "--colormap", "jet", "-o", "j.png", seattle)
    assert code == 2 and 'needs matplotlib: pip install "heatmap.py[colormap]"' in err
