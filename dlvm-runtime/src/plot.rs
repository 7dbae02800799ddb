//! Greyscale PNG image grids, e.g. for samples or reconstructions.

use std::path::{Path, PathBuf};

/// Grey level of the separator lines and of unused grid cells.
const SEPARATOR: u8 = 128;

/// An error raised while writing an image grid.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A size argument is zero.
    #[error("cannot plot an image grid with height {height}, width {width} and {columns} columns; all three must be positive")]
    ZeroSize {
        /// Height of one image in pixels.
        height: usize,
        /// Width of one image in pixels.
        width: usize,
        /// Number of grid columns.
        columns: usize,
    },

    /// The buffer does not hold a whole, positive number of images.
    #[error("image buffer has {found} values, but it must hold a positive whole number of images of height x width = {image_len} values each; pass complete images")]
    Length {
        /// Values per image (`height * width`).
        image_len: usize,
        /// Length of the buffer given.
        found: usize,
    },

    /// The grid would be larger than a PNG can hold.
    #[error("the image grid would be {width} x {height} pixels, too large for a PNG; plot fewer images or use more columns")]
    TooLarge {
        /// Grid width in pixels.
        width: usize,
        /// Grid height in pixels.
        height: usize,
    },

    /// The output directory could not be created.
    #[error("cannot create the directory of `{}`: {source}; check the path and permissions", path.display())]
    Io {
        /// The PNG file to be written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// The PNG could not be encoded or written.
    #[error("cannot write `{}`: {source}; check the path and permissions", path.display())]
    Image {
        /// The PNG file to be written.
        path: PathBuf,
        /// The underlying encoding or I/O error.
        source: image::ImageError,
    },
}

/// Layout of a grid of equally sized tiles separated by 1-pixel lines.
#[derive(Clone, Copy, Debug)]
struct Grid {
    /// Tile height in pixels.
    height: usize,
    /// Tile width in pixels.
    width: usize,
    /// Number of tile columns actually used.
    columns: usize,
    /// Number of tile rows.
    rows: usize,
}

impl Grid {
    /// Total width in pixels, `None` on overflow.
    fn pixel_width(self) -> Option<usize> {
        extent(self.columns, self.width)
    }

    /// Total height in pixels, `None` on overflow.
    fn pixel_height(self) -> Option<usize> {
        extent(self.rows, self.height)
    }
}

/// `count` tiles of `size` pixels plus `count - 1` separators.
fn extent(count: usize, size: usize) -> Option<usize> {
    count.checked_mul(size.checked_add(1)?)?.checked_sub(1)
}

/// Saves `images` (consecutive row-major `height * width` blocks with values
/// in `[0, 1]`) as a greyscale PNG grid with `columns` columns, separated by
/// mid-grey 1-pixel lines. Values are clamped to `[0, 1]`; NaN becomes 0
/// (black). Creates the parent directory if it is missing.
///
/// # Errors
///
/// - [`PlotError::ZeroSize`] if `height`, `width` or `columns` is 0,
/// - [`PlotError::Length`] if `images` is empty or not a whole number of images,
/// - [`PlotError::TooLarge`] if the grid exceeds PNG limits,
/// - [`PlotError::Io`] / [`PlotError::Image`] if the file cannot be written.
pub fn save_image_grid(
    path: impl AsRef<Path>,
    images: &[f32],
    height: usize,
    width: usize,
    columns: usize,
) -> Result<(), PlotError> {
    let path = path.as_ref();
    let grid = layout(images.len(), height, width, columns)?;
    let (w, h) = pixel_size(grid)?;
    let pixels = render(images, grid);
    create_parent(path)?;
    image::save_buffer_with_format(
        path,
        &pixels,
        w,
        h,
        image::ColorType::L8,
        image::ImageFormat::Png,
    )
    .map_err(|source| PlotError::Image {
        path: path.to_path_buf(),
        source,
    })
}

/// Validates the sizes and computes the grid layout.
fn layout(len: usize, height: usize, width: usize, columns: usize) -> Result<Grid, PlotError> {
    if height == 0 || width == 0 || columns == 0 {
        return Err(PlotError::ZeroSize {
            height,
            width,
            columns,
        });
    }
    let image_len = height.saturating_mul(width);
    let count = len / image_len;
    if count == 0 || count * image_len != len {
        return Err(PlotError::Length {
            image_len,
            found: len,
        });
    }
    Ok(Grid {
        height,
        width,
        columns: columns.min(count),
        rows: count.div_ceil(columns),
    })
}

/// The grid's pixel size as PNG dimensions.
fn pixel_size(grid: Grid) -> Result<(u32, u32), PlotError> {
    let too_large = || PlotError::TooLarge {
        width: grid.pixel_width().unwrap_or(usize::MAX),
        height: grid.pixel_height().unwrap_or(usize::MAX),
    };
    let (w, h) = grid
        .pixel_width()
        .zip(grid.pixel_height())
        .ok_or_else(too_large)?;
    let limit = i32::MAX as usize;
    if w > limit || h > limit || w.checked_mul(h).is_none() {
        return Err(too_large());
    }
    let w = u32::try_from(w).map_err(|_| too_large())?;
    let h = u32::try_from(h).map_err(|_| too_large())?;
    Ok((w, h))
}

/// Draws the tiles onto a separator-grey canvas.
fn render(images: &[f32], grid: Grid) -> Vec<u8> {
    let stride = grid.pixel_width().unwrap_or(0);
    let total = stride * grid.pixel_height().unwrap_or(0);
    let mut pixels = vec![SEPARATOR; total];
    let image_len = grid.height * grid.width;
    for (k, image) in images.chunks_exact(image_len).enumerate() {
        let x0 = (k % grid.columns) * (grid.width + 1);
        let y0 = (k / grid.columns) * (grid.height + 1);
        for (y, line) in image.chunks_exact(grid.width).enumerate() {
            let start = (y0 + y) * stride + x0;
            if let Some(target) = pixels.get_mut(start..start + grid.width) {
                target.iter_mut().zip(line).for_each(|(p, &v)| *p = grey(v));
            }
        }
    }
    pixels
}

/// Maps a value in `[0, 1]` to a grey level (clamped; NaN is black).
fn grey(v: f32) -> u8 {
    if v.is_nan() {
        return 0;
    }
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Creates the parent directory of `path` if it is missing.
fn create_parent(path: &Path) -> Result<(), PlotError> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|source| PlotError::Io {
            path: path.to_path_buf(),
            source,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir()
            .join(format!("dlvm-plot-test-{}", std::process::id()))
            .join(name)
    }

    /// Six 2x3 images; image `k` is filled with `k / 5`.
    fn six_images() -> Vec<f32> {
        (0..6).flat_map(|k| vec![k as f32 / 5.0; 6]).collect()
    }

    #[test]
    fn grid_of_six_images_round_trips_through_png() {
        let path = temp_path("nested/dir/grid.png");
        let mut images = six_images();
        images[1] = 2.0; // image 0, pixel (0, 1): clamped to white
        images[2] = f32::NAN; // image 0, pixel (0, 2): black
        images[6 + 4] = -1.0; // image 1, pixel (1, 1): clamped to black
        save_image_grid(&path, &images, 2, 3, 3).unwrap();
        let img = image::open(&path).unwrap().to_luma8();
        assert_eq!(img.dimensions(), (3 * 3 + 2, 2 * 2 + 1));
        let at = |x: u32, y: u32| img.get_pixel(x, y).0[0];
        assert_eq!(at(0, 0), 0); // image 0 = 0.0
        assert_eq!(at(1, 0), 255);
        assert_eq!(at(2, 0), 0);
        assert_eq!(at(3, 0), SEPARATOR); // vertical separator
        assert_eq!(at(0, 2), SEPARATOR); // horizontal separator
        assert_eq!(at(4, 0), 51); // image 1 = 0.2
        assert_eq!(at(5, 1), 0);
        assert_eq!(at(8, 3), 255); // image 5 (row 1, col 2) = 1.0
        assert_eq!(at(4, 4), 204); // image 4 (row 1, col 1) = 0.8
        assert_eq!(at(0, 3), 153); // image 3 (row 1, col 0) = 0.6
    }

    #[test]
    fn partial_last_row_and_few_images() {
        let path = temp_path("partial.png");
        save_image_grid(&path, &six_images()[..4 * 6], 2, 3, 3).unwrap();
        let img = image::open(&path).unwrap().to_luma8();
        assert_eq!(img.dimensions(), (11, 5));
        assert_eq!(img.get_pixel(9, 4).0[0], SEPARATOR); // unused cell
        save_image_grid(&path, &six_images()[..12], 2, 3, 10).unwrap();
        let img = image::open(&path).unwrap().to_luma8();
        assert_eq!(img.dimensions(), (7, 2));
    }

    #[test]
    fn rejects_bad_sizes() {
        let path = temp_path("bad.png");
        let err = save_image_grid(&path, &[0.0; 6], 0, 3, 1).unwrap_err();
        assert!(matches!(err, PlotError::ZeroSize { .. }), "{err}");
        let err = save_image_grid(&path, &[0.0; 6], 2, 3, 0).unwrap_err();
        assert!(matches!(err, PlotError::ZeroSize { .. }), "{err}");
        let err = save_image_grid(&path, &[0.0; 7], 2, 3, 1).unwrap_err();
        assert!(
            matches!(
                err,
                PlotError::Length {
                    image_len: 6,
                    found: 7
                }
            ),
            "{err}"
        );
        let err = save_image_grid(&path, &[], 2, 3, 1).unwrap_err();
        assert!(matches!(err, PlotError::Length { found: 0, .. }), "{err}");
        let err = save_image_grid(&path, &[0.0; 4], 1 << 31, 1, 1).unwrap_err();
        assert!(matches!(err, PlotError::Length { .. }), "{err}");
        assert!(!path.exists());
    }

    #[test]
    fn rejects_oversized_grid() {
        let grid = Grid {
            height: 1,
            width: 1,
            columns: 1 << 31,
            rows: 1,
        };
        assert!(matches!(pixel_size(grid), Err(PlotError::TooLarge { .. })));
    }
}
