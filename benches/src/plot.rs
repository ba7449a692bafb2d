//! Line charts as inline SVG (plotters), so an HTML report needs no scripts.

use plotters::prelude::*;

const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// One chart of named series of (x, y) points.
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> String {
    draw(title, x_label, y_label, series, None, |x| format!("{x}"))
}

/// Latency by percentile: the x axis counts nines (50 %, 90 %, 99 %, …).
pub fn percentiles(title: &str, series: &[(&str, Vec<(f64, f64)>)]) -> String {
    let nines: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(name, points)| {
            (
                *name,
                points
                    .iter()
                    .map(|&(q, ms)| (-(1.0 - q).log10(), ms))
                    .collect(),
            )
        })
        .collect();
    // Whole nines on the axis: 0 %, 90 %, 99 %, 99.9 %, …
    let most = nines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(x, _)| x))
        .fold(1.0f64, f64::max)
        .ceil();
    draw(
        title,
        "percentile",
        "ms",
        &nines,
        Some((0.0, most)),
        |nines| {
            let percent = 100.0 * (1.0 - 10f64.powf(-nines));
            format!("{percent:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_owned()
                + "%"
        },
    )
}

fn draw(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
    x_range: Option<(f64, f64)>,
    x_format: impl Fn(&f64) -> String,
) -> String {
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0.0f64);
    for &(x, y) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if let Some(range) = x_range {
        (x0, x1) = range;
    }
    if x0 >= x1 {
        (x0, x1) = (0.0, x0.max(0.0) + 1.0);
    }
    let x_labels = match x_range {
        Some((from, to)) => (to - from) as usize + 1,
        None => 10,
    };
    let y1 = if y1 > 0.0 { y1 * 1.05 } else { 1.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 320)).into_drawing_area();
        let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(60)
                .build_cartesian_2d(x0..x1, 0.0..y1)?;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(y_label)
                .x_labels(x_labels)
                .x_label_formatter(&x_format)
                .draw()?;
            for (n, (name, points)) in series.iter().enumerate() {
                let colour = COLOURS[n % COLOURS.len()];
                chart
                    .draw_series(LineSeries::new(
                        points.iter().copied(),
                        colour.stroke_width(2),
                    ))?
                    .label(*name)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
            root.present()?;
            Ok(())
        })();
        if let Err(e) = drawn {
            return format!("<p>plot {title:?} could not be drawn: {e}</p>");
        }
    }
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_their_labels() {
        let svg = lines(
            "rates",
            "second",
            "per second",
            &[("due", vec![(1.0, 5.0), (2.0, 7.0)])],
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("rates") && svg.contains("due"));
        let svg = percentiles("latency", &[("corrected", vec![(0.5, 1.0), (0.99, 3.0)])]);
        assert!(svg.contains("99%"), "{svg}");
    }
}
