//! Closed forms of factor analysis, `x = W z + μ + ε`, `z ~ N(0, I_d)`, `ε ~ N(0, diag(ψ))`, used as
//! the reference for testing ELBO and samplers.
#![allow(dead_code)]

pub mod fa_model;

/// A factor-analysis model with `p` observed and `d` latent dimensions (row-major `w`, p x d).
pub struct FactorAnalysis {
    pub w: Vec<f64>,
    pub mu: Vec<f64>,
    pub psi: Vec<f64>,
    pub p: usize,
    pub d: usize,
}

impl FactorAnalysis {
    /// The marginal covariance `C = W Wᵀ + diag(ψ)`, row-major p x p.
    pub fn marginal_covariance(&self) -> Vec<f64> {
        let (p, d) = (self.p, self.d);
        let mut c = vec![0.0; p * p];
        for i in 0..p {
            for j in 0..p {
                c[i * p + j] = (0..d).map(|k| self.w[i * d + k] * self.w[j * d + k]).sum();
            }
            c[i * p + i] += self.psi[i];
        }
        c
    }

    /// Exact `log p(x) = log N(x | μ, C)`.
    pub fn log_marginal(&self, x: &[f64]) -> f64 {
        let p = self.p;
        let l = cholesky(&self.marginal_covariance(), p);
        let diff: Vec<f64> = x.iter().zip(&self.mu).map(|(a, b)| a - b).collect();
        let y = forward_substitute(&l, &diff, p);
        let quad: f64 = y.iter().map(|v| v * v).sum();
        let log_det: f64 = (0..p).map(|i| 2.0 * l[i * p + i].ln()).sum();
        -0.5 * (p as f64 * (2.0 * std::f64::consts::PI).ln() + log_det + quad)
    }

    /// Exact posterior `p(z | x) = N(m, S)` when `Wᵀ diag(ψ)⁻¹ W` is diagonal: returns (m, diag S).
    pub fn diagonal_posterior(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (p, d) = (self.p, self.d);
        let precision: Vec<f64> = (0..d)
            .map(|k| {
                1.0 + (0..p)
                    .map(|i| self.w[i * d + k].powi(2) / self.psi[i])
                    .sum::<f64>()
            })
            .collect();
        let mean = (0..d)
            .map(|k| {
                let proj: f64 = (0..p)
                    .map(|i| self.w[i * d + k] * (x[i] - self.mu[i]) / self.psi[i])
                    .sum();
                proj / precision[k]
            })
            .collect();
        (mean, precision.iter().map(|v| 1.0 / v).collect())
    }

    /// The posterior's linear map: `m(x) = A x + c` with `A = S Wᵀ Ψ⁻¹` (d x p) and `c = -A μ`.
    pub fn posterior_map(&self) -> (Vec<f64>, Vec<f64>) {
        let (p, d) = (self.p, self.d);
        let (_, var) = self.diagonal_posterior(&vec![0.0; p]);
        let a: Vec<f64> = (0..d)
            .flat_map(|k| {
                let var_k = var[k];
                (0..p).map(move |i| (k, i, var_k))
            })
            .map(|(k, i, var_k)| var_k * self.w[i * d + k] / self.psi[i])
            .collect();
        let c = (0..d)
            .map(|k| -(0..p).map(|i| a[k * p + i] * self.mu[i]).sum::<f64>())
            .collect();
        (a, c)
    }
}

/// `KL(N(m1, diag v1) || N(m2, diag v2))`.
pub fn kl_diagonal(m1: &[f64], v1: &[f64], m2: &[f64], v2: &[f64]) -> f64 {
    (0..m1.len())
        .map(|k| 0.5 * ((v2[k] / v1[k]).ln() + (v1[k] + (m1[k] - m2[k]).powi(2)) / v2[k] - 1.0))
        .sum()
}

/// Lower-triangular `L` with `L Lᵀ = a` (a symmetric positive definite, n x n).
pub fn cholesky(a: &[f64], n: usize) -> Vec<f64> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            l[i * n + j] = if i == j {
                (a[i * n + i] - s).sqrt()
            } else {
                (a[i * n + j] - s) / l[j * n + j]
            };
        }
    }
    l
}

/// Solves `L y = b` for lower-triangular `L`.
pub fn forward_substitute(l: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut y = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    y
}

/// Mean and standard error of values.
pub fn mean_and_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

pub fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}
