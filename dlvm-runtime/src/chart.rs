//! Line and scatter charts as PNG files: learning curves, likelihood against a parameter, samples
//! of a two-dimensional model, a fitted curve over its data.
//!
//! Text is drawn with the DejaVu Sans font shipped inside the crate, so charts render the same on
//! every machine, with no system fonts.
//!
//! ```no_run
//! use dlvm_runtime::chart::{Chart, Series};
//! let curve: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, (i as f64).sqrt())).collect();
//! Chart::new("square root", "x", "sqrt(x)")
//!     .with(Series::line("sqrt", curve))
//!     .save("out/sqrt.png")?;
//! # Ok::<(), dlvm_runtime::chart::ChartError>(())
//! ```

use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// The font every chart uses, registered once with plotters as `sans-serif`.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Colours of successive series (a colour-blind-safe palette).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// An error raised while drawing or writing a chart.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// Nothing to draw: no series, or no finite point in any series.
    #[error("chart `{title}` has no finite point to draw; pass at least one series with finite (x, y) values")]
    Empty {
        /// The chart's title.
        title: String,
    },
    /// Drawing or encoding the PNG failed.
    #[error("cannot draw `{}`: {reason}; check the path and permissions", path.display())]
    Draw {
        /// The PNG file to be written.
        path: PathBuf,
        /// What the drawing library reported.
        reason: String,
    },
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Consecutive points joined by straight segments.
    Line,
    /// A dashed horizontal-style reference line (drawn as a line with a lighter colour).
    Reference,
    /// One small filled circle per point.
    Points,
}

/// A named sequence of `(x, y)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// The points; non-finite ones are skipped.
    pub points: Vec<(f64, f64)>,
    /// How to draw them.
    pub style: Style,
}

impl Series {
    /// Points joined by lines.
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
            style: Style::Line,
        }
    }

    /// A scatter of points.
    pub fn points(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
            style: Style::Points,
        }
    }

    /// A reference line at height `y` across `[x0, x1]` (e.g. an upper bound).
    pub fn horizontal(label: impl Into<String>, y: f64, x0: f64, x1: f64) -> Self {
        Self {
            label: label.into(),
            points: vec![(x0, y), (x1, y)],
            style: Style::Reference,
        }
    }

    fn finite(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    }
}

/// A chart: title, axis labels and series, with the axis ranges fitted to the data.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// What to draw, in order; colours follow the order.
    pub series: Vec<Series>,
    /// Picture size in pixels (width, height); default 900 x 600.
    pub size: (u32, u32),
}

impl Chart {
    /// An empty chart with a title and axis labels.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            size: (900, 600),
        }
    }

    /// Adds a series.
    pub fn with(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Draws the chart and writes it to `path` as PNG, creating the directory if needed.
    ///
    /// # Errors
    /// [`ChartError::Empty`] when no series has a finite point; [`ChartError::Draw`] when the file
    /// cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ChartError> {
        let path = path.as_ref();
        let ((x0, x1), (y0, y1)) = self.ranges().ok_or_else(|| ChartError::Empty {
            title: self.title.clone(),
        })?;
        let fail = |e: &dyn std::fmt::Display| ChartError::Draw {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        }
        register_font();
        let root = BitMapBackend::new(path, self.size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| fail(&e))?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .label_style(("sans-serif", 15))
            .draw()
            .map_err(|e| fail(&e))?;
        for (i, series) in self.series.iter().enumerate() {
            draw_series(&mut chart, series, PALETTE[i % PALETTE.len()]).map_err(|e| fail(&e))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))
    }

    /// The data's x and y ranges, each widened by 5% (and made non-empty).
    fn ranges(&self) -> Option<((f64, f64), (f64, f64))> {
        let points: Vec<(f64, f64)> = self.series.iter().flat_map(Series::finite).collect();
        let (xs, ys): (Vec<f64>, Vec<f64>) = points.into_iter().unzip();
        Some((padded_range(&xs)?, padded_range(&ys)?))
    }
}

type Cartesian<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

type DrawResult<'b> =
    Result<(), DrawingAreaErrorKind<<BitMapBackend<'b> as DrawingBackend>::ErrorType>>;

fn draw_series<'b>(
    chart: &mut Cartesian<'_, 'b>,
    series: &Series,
    colour: RGBColor,
) -> DrawResult<'b> {
    let points: Vec<(f64, f64)> = series.finite().collect();
    let legend_colour = colour;
    let drawn = match series.style {
        Style::Line => chart.draw_series(LineSeries::new(points, colour.stroke_width(2)))?,
        Style::Reference => {
            chart.draw_series(LineSeries::new(points, colour.mix(0.6).stroke_width(1)))?
        }
        Style::Points => chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, colour.mix(0.7).filled())),
        )?,
    };
    drawn.label(series.label.as_str()).legend(move |(x, y)| {
        PathElement::new(vec![(x, y), (x + 20, y)], legend_colour.stroke_width(2))
    });
    Ok(())
}

/// `[min, max]` of finite values widened by 5% on each side; a single value gets a unit range.
fn padded_range(values: &[f64]) -> Option<(f64, f64)> {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !(lo.is_finite() && hi.is_finite()) {
        return None;
    }
    let pad = if hi > lo {
        0.05 * (hi - lo)
    } else {
        0.5_f64.max(lo.abs() * 0.05)
    };
    Some((lo - pad, hi + pad))
}

fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The font is a valid TTF compiled into the crate; registration cannot fail for it, and
        // if it ever did, plotters reports the missing font when drawing text.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_pad_the_data_and_skip_non_finite_points() {
        let chart = Chart::new("t", "x", "y").with(Series::line(
            "a",
            vec![(0.0, 1.0), (10.0, 3.0), (f64::NAN, 100.0)],
        ));
        let ((x0, x1), (y0, y1)) = chart.ranges().unwrap();
        assert!((x0 + 0.5).abs() < 1e-12 && (x1 - 10.5).abs() < 1e-12);
        assert!((y0 - 0.9).abs() < 1e-12 && (y1 - 3.1).abs() < 1e-12);
    }

    #[test]
    fn an_empty_chart_is_an_error_naming_it() {
        let err = Chart::new("nothing", "x", "y").save(std::env::temp_dir().join("dlvm-empty.png"));
        assert!(matches!(err, Err(ChartError::Empty { ref title }) if title == "nothing"));
    }

    #[test]
    fn a_chart_is_written_as_a_png_of_the_requested_size() {
        let path = std::env::temp_dir().join(format!("dlvm-chart-{}.png", std::process::id()));
        let line: Vec<(f64, f64)> = (0..20).map(|i| (f64::from(i), f64::from(i * i))).collect();
        Chart::new("squares", "i", "i²")
            .with(Series::line("i²", line))
            .with(Series::points("data", vec![(3.0, 10.0), (5.0, 20.0)]))
            .with(Series::horizontal("bound", 300.0, 0.0, 19.0))
            .save(&path)
            .unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), (900, 600));
        // Some pixels are neither white nor black: the series were drawn in colour.
        let rgb = img.to_rgb8();
        assert!(rgb.pixels().any(|p| p.0 == [0, 114, 178]));
        std::fs::remove_file(path).ok();
    }
}
