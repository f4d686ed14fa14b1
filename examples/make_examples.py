"""Regenerate the bundled example data (seeded, so the files never change)."""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def points(rng):
    """Photo-like points clustered around a few Seattle spots."""
    centres = [(47.6097, -122.3422, 0.004), (47.6205, -122.3493, 0.003),
               (47.6553, -122.3035, 0.006), (47.5952, -122.3316, 0.003),
               (47.6687, -122.3840, 0.005)]
    rows = []
    for lat, lon, spread in centres:
        n = int(rng.integers(300, 900))
        rows.append(np.column_stack([rng.normal(lat, spread, n), rng.normal(lon, spread * 1.5, n)]))
    np.savetxt(os.path.join(HERE, "points.txt"), np.concatenate(rows), fmt="%.6f")


def track(rng):
    """A bike ride as a GPX 1.1 track with two segments."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<gpx version="1.1" creator="heatmap.py examples" '
             'xmlns="http://www.topografix.com/GPX/1/1">', "  <trk><name>Ride</name>"]
    lat, lon, heading = 47.6097, -122.3422, 0.6
    for _ in range(2):
        lines.append("    <trkseg>")
        for _ in range(600):
            heading += rng.normal(0, 0.15)
            lat += 0.00012 * np.cos(heading)
            lon += 0.00018 * np.sin(heading)
            lines.append('      <trkpt lat="%.6f" lon="%.6f"/>' % (lat, lon))
        lines.append("    </trkseg>")
        lat, lon = lat + 0.004, lon - 0.003
    lines += ["  </trk>", "</gpx>", ""]
    with open(os.path.join(HERE, "ride.gpx"), "w") as stream:
        stream.write("\n".join(lines))


def timed_track(rng):
    """A fifty-minute ride with timestamps: a fix every 5 s while moving, a ten-minute stop
    at a cafe halfway (a fix a minute, as smart recording does)."""
    start = np.datetime64("2024-05-01T07:00:00")
    lat, lon, heading, seconds, fixes = 47.6205, -122.3493, 2.2, 0, []
    legs = [(240, 5, 1.0), (11, 60, 0.0), (230, 5, 1.0)]      # (fixes, seconds apart, moving)
    for count, step, moving in legs:
        for _ in range(count):
            fixes.append((lat, lon, start + np.timedelta64(seconds, "s")))
            seconds += step
            heading += rng.normal(0, 0.12) * moving
            lat += moving * 0.00022 * np.cos(heading)
            lon += moving * 0.00033 * np.sin(heading)
        heading += np.pi * moving   # turn round after the stop
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<gpx version="1.1" creator="heatmap.py examples" '
             'xmlns="http://www.topografix.com/GPX/1/1">', "  <trk><name>Cafe ride</name>",
             "    <trkseg>"]
    lines += ['      <trkpt lat="%.6f" lon="%.6f"><time>%sZ</time></trkpt>' % fix for fix in fixes]
    lines += ["    </trkseg>", "  </trk>", "</gpx>", ""]
    with open(os.path.join(HERE, "timed_ride.gpx"), "w") as stream:
        stream.write("\n".join(lines))


def commutes(rng):
    """One commute (a curve with a stop at the lights) by three devices: a fix every second,
    every 10 s, and at irregular times (smart recording); each a little apart from the last."""
    start = np.datetime64("2024-05-02T08:00:00")
    seconds = np.arange(0, 1501)
    moving = (seconds < 600) | (seconds >= 720)     # two minutes at the lights
    along = np.cumsum(np.where(moving, 6.0, 0.0))   # metres, 6 m/s
    heading = 1.0 + along / 9000 - 0.5 * np.sin(along / 1500)
    lat = 47.63 + np.cumsum(np.where(moving, np.cos(heading), 0)) * 6 / 111320
    lon = -122.36 + np.cumsum(np.where(moving, np.sin(heading), 0)) * 6 / 75000
    smart = np.unique(np.r_[0, seconds[-1], 599, 720, rng.choice(seconds, 120, replace=False)])
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<gpx version="1.1" creator="heatmap.py examples" '
             'xmlns="http://www.topografix.com/GPX/1/1">', "  <trk><name>Commutes</name>"]
    for k, keep in enumerate((seconds, seconds[::10], smart)):
        lines.append("    <trkseg>")
        lines += ['      <trkpt lat="%.6f" lon="%.6f"><time>%sZ</time></trkpt>'
                  % (lat[i] + k * 0.0012, lon[i], start + np.timedelta64(int(i), "s"))
                  for i in keep]
        lines.append("    </trkseg>")
    lines += ["  </trk>", "</gpx>", ""]
    with open(os.path.join(HERE, "commutes.gpx"), "w") as stream:
        stream.write("\n".join(lines))


if __name__ == "__main__":
    generator = np.random.default_rng(2010)
    points(generator)
    track(generator)
    timed_track(generator)   # these three first: the files above stay as they were
    commutes(generator)
