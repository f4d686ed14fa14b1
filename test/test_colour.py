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
    assert run("-W", 40, "-G", "g.png", "-m", "0aaffffff", "-o", "a.png", seattle) == (0, "")
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
    assert run("-I", "bg.png", "-W", 100, "-H", 100, "-o", "out.png", seattle) == (0, "")
    assert pixels("out.png")[1].shape == (21, 33, 3)


def test_background_colour_ignored_with_an_image(run, seattle, pixels, tmp_path):
    make_background(tmp_path)
    assert run("-I", "bg.png", "-o", "a.png", seattle) == (0, "")
    assert run("-I", "bg.png", "-b", "red", "-o", "b.png", seattle) == (0, "")
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
