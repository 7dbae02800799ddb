//! Adam with its state in the open (moments and step count), so that training can be saved and
//! resumed bit for bit; with a NaN/infinity guard and optional gradient-norm clipping.

use super::params::NamedTensor;

/// Adam's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamSettings {
    /// Step size `α`.
    pub learning_rate: f64,
    /// Moment decay rates `(β₁, β₂)`.
    pub betas: [f64; 2],
    /// Denominator guard `ε`.
    pub eps: f64,
    /// Rescale the gradient to at most this Euclidean norm (`None`: no clipping).
    pub clip_norm: Option<f64>,
}

/// Adam's state: the step count and the first and second moments of every trainable tensor, in
/// the model's visiting order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdamState {
    /// Updates done so far, `t`.
    pub step: u64,
    /// First moments `m`, one per trainable tensor (empty before the first update).
    pub moment1: Vec<NamedTensor>,
    /// Second moments `v`, one per trainable tensor (empty before the first update).
    pub moment2: Vec<NamedTensor>,
}

/// Why an update was refused; the parameters and the state are then unchanged.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateError {
    /// A gradient value is NaN or infinite.
    Gradient {
        /// The tensor it belongs to.
        parameter: String,
        /// Its index within the tensor.
        index: usize,
        /// The value.
        value: f32,
    },
    /// The update would make a parameter NaN or infinite.
    Parameter {
        /// The tensor.
        parameter: String,
        /// The index within the tensor.
        index: usize,
        /// The value it would take.
        value: f32,
    },
    /// The gradients do not match the parameters (a programming error, never user input).
    Mismatch(String),
}

/// What an update did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateReport {
    /// The gradient's Euclidean norm before clipping.
    pub grad_norm: f64,
    /// Whether it was rescaled.
    pub clipped: bool,
}

impl AdamState {
    /// One Adam update of `params` (trainable tensors only, visiting order, updated in place)
    /// from `grads` for *minimising* the loss. The update is first computed and checked in
    /// full, then committed: a refused update leaves `params` and `self` unchanged.
    ///
    /// # Formula
    /// With `g` the gradient, rescaled by `min(1, c / ‖g‖₂)` when clipping at `c`:
    /// `m ← β₁ m + (1 - β₁) g`, `v ← β₂ v + (1 - β₂) g²`, `t ← t + 1`,
    /// `θ ← θ - α m̂ / (√v̂ + ε)` with `m̂ = m / (1 - β₁ᵗ)`, `v̂ = v / (1 - β₂ᵗ)`.
    ///
    /// # Errors
    /// [`UpdateError::Gradient`] for a NaN/infinite gradient, [`UpdateError::Parameter`] when a
    /// new parameter would not be finite, [`UpdateError::Mismatch`] when the lists (or the
    /// moments) disagree.
    pub fn update(
        &mut self,
        settings: &AdamSettings,
        params: &mut [NamedTensor],
        grads: &[NamedTensor],
    ) -> Result<UpdateReport, UpdateError> {
        check_pairing(params, grads)?;
        let fresh = self.moment1.is_empty() && self.moment2.is_empty();
        if !fresh {
            check_pairing(params, &self.moment1)?;
            check_pairing(params, &self.moment2)?;
        }
        let grad_norm = finite_norm(grads)?;
        let scale = match settings.clip_norm {
            Some(c) if grad_norm > c => (c / grad_norm) as f32,
            _ => 1.0,
        };
        let step = Step::new(settings, self.step + 1, scale);
        self.check_step(&step, params, grads)?;
        if fresh {
            self.moment1 = zeros_like(params);
            self.moment2 = zeros_like(params);
        }
        for (k, tensor) in params.iter_mut().enumerate() {
            let (m, v) = (&mut self.moment1[k].values, &mut self.moment2[k].values);
            let moments = m.iter_mut().zip(v.iter_mut());
            for ((theta, &g), (m, v)) in tensor.values.iter_mut().zip(&grads[k].values).zip(moments)
            {
                (*m, *v, *theta) = step.apply(*theta, g, *m, *v);
            }
        }
        self.step += 1;
        Ok(UpdateReport {
            grad_norm,
            clipped: scale < 1.0,
        })
    }

    /// Checks that `step` keeps every parameter finite, without changing anything.
    ///
    /// The common case is one branch-free (vectorisable) pass per tensor; only a refused update
    /// pays for a second pass that finds the first offending element.
    fn check_step(
        &self,
        step: &Step,
        params: &[NamedTensor],
        grads: &[NamedTensor],
    ) -> Result<(), UpdateError> {
        for (k, tensor) in params.iter().enumerate() {
            let new_values = |i: usize| self.new_value(step, tensor, &grads[k], k, i);
            let finite = match (self.moment1.get(k), self.moment2.get(k)) {
                (Some(m), Some(v)) => all_finite(
                    tensor
                        .values
                        .iter()
                        .zip(&grads[k].values)
                        .zip(m.values.iter().zip(&v.values)),
                    |((&theta, &g), (&m, &v))| step.apply(theta, g, m, v).2,
                ),
                _ => all_finite(
                    tensor.values.iter().zip(&grads[k].values),
                    |(&theta, &g)| step.apply(theta, g, 0.0, 0.0).2,
                ),
            };
            if !finite {
                let (index, value) = (0..tensor.values.len())
                    .map(|i| (i, new_values(i)))
                    .find(|(_, value)| !value.is_finite())
                    .unwrap_or((0, f32::NAN));
                return Err(UpdateError::Parameter {
                    parameter: tensor.name.clone(),
                    index,
                    value,
                });
            }
        }
        Ok(())
    }

    /// The new value of element `i` of tensor `k` under `step` (moments are zero before the
    /// first update).
    fn new_value(
        &self,
        step: &Step,
        tensor: &NamedTensor,
        grad: &NamedTensor,
        k: usize,
        i: usize,
    ) -> f32 {
        let get = |moments: &[NamedTensor]| {
            moments
                .get(k)
                .and_then(|t| t.values.get(i))
                .copied()
                .unwrap_or(0.0)
        };
        step.apply(
            tensor.values[i],
            grad.values[i],
            get(&self.moment1),
            get(&self.moment2),
        )
        .2
    }
}

/// Whether `f` is finite on every item, evaluated without early exit so that the loop vectorises.
fn all_finite<I: Iterator>(items: I, f: impl Fn(I::Item) -> f32) -> bool {
    items.fold(true, |ok, item| ok & f(item).is_finite())
}

/// The constants of one Adam step, in `f32` as dfdx's kernel computes them.
struct Step {
    b1: f32,
    b2: f32,
    lr: f32,
    eps: f32,
    correction1: f32,
    correction2: f32,
    scale: f32,
}

impl Step {
    fn new(settings: &AdamSettings, t: u64, scale: f32) -> Self {
        let power = i32::try_from(t).unwrap_or(i32::MAX);
        let [b1, b2] = settings.betas.map(|b| b as f32);
        Self {
            b1,
            b2,
            lr: settings.learning_rate as f32,
            eps: settings.eps as f32,
            correction1: (1.0 - b1.powi(power)).recip(),
            correction2: (1.0 - b2.powi(power)).recip(),
            scale,
        }
    }

    /// `(m, v, θ)` after the step, from `θ`, the raw gradient `g` and the old `(m, v)`.
    fn apply(&self, theta: f32, g: f32, m: f32, v: f32) -> (f32, f32, f32) {
        let g = g * self.scale;
        let m = m * self.b1 + g * (1.0 - self.b1);
        let v = v * self.b2 + g * g * (1.0 - self.b2);
        let update = self.lr * (m * self.correction1) / ((v * self.correction2).sqrt() + self.eps);
        (m, v, theta - update)
    }
}

fn zeros_like(params: &[NamedTensor]) -> Vec<NamedTensor> {
    params
        .iter()
        .map(|p| NamedTensor {
            values: vec![0.0; p.values.len()],
            ..p.clone()
        })
        .collect()
}

/// Checks that parameters and gradients list the same tensors with the same sizes.
fn check_pairing(params: &[NamedTensor], grads: &[NamedTensor]) -> Result<(), UpdateError> {
    if params.len() != grads.len() {
        return Err(UpdateError::Mismatch(format!(
            "{} parameters but {} gradients",
            params.len(),
            grads.len()
        )));
    }
    match params
        .iter()
        .zip(grads)
        .find(|(p, g)| p.name != g.name || p.values.len() != g.values.len())
    {
        Some((p, g)) => Err(UpdateError::Mismatch(format!(
            "parameter `{}` paired with gradient `{}`",
            p.name, g.name
        ))),
        None => Ok(()),
    }
}

/// The Euclidean norm of all gradients, after checking every value is finite.
///
/// # Formula
/// `‖g‖₂ = √(Σ_k Σ_i g_ki²)`, accumulated in `f64`.
fn finite_norm(grads: &[NamedTensor]) -> Result<f64, UpdateError> {
    // Squares of finite f32 values cannot overflow f64: the sum is finite iff every value is.
    let sum: f64 = grads
        .iter()
        .map(|t| {
            t.values
                .iter()
                .map(|&g| f64::from(g) * f64::from(g))
                .sum::<f64>()
        })
        .sum();
    if sum.is_finite() {
        return Ok(sum.sqrt());
    }
    let (tensor, index, value) = grads
        .iter()
        .flat_map(|t| t.values.iter().enumerate().map(move |(i, &g)| (t, i, g)))
        .find(|(_, _, g)| !g.is_finite())
        .map_or((String::new(), 0, f32::NAN), |(t, i, g)| {
            (t.name.clone(), i, g)
        });
    Err(UpdateError::Gradient {
        parameter: tensor,
        index,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, values: Vec<f32>) -> NamedTensor {
        NamedTensor {
            name: name.into(),
            shape: vec![values.len()],
            trainable: true,
            values,
        }
    }

    fn settings(clip_norm: Option<f64>) -> AdamSettings {
        AdamSettings {
            learning_rate: 0.1,
            betas: [0.9, 0.999],
            eps: 1e-8,
            clip_norm,
        }
    }

    #[test]
    fn the_first_step_moves_each_parameter_by_the_learning_rate() {
        // After one step m̂ = g and v̂ = g², so θ moves by α g / (|g| + ε) ≈ α sign(g).
        let mut state = AdamState::default();
        let mut params = [tensor("w", vec![1.0, 1.0, 1.0])];
        let grads = [tensor("w", vec![3.0, -0.5, 0.0])];
        let report = state.update(&settings(None), &mut params, &grads).unwrap();
        let want = [0.9f32, 1.1, 1.0];
        for (got, want) in params[0].values.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        assert!((report.grad_norm - 9.25f64.sqrt()).abs() < 1e-9);
        assert_eq!(state.step, 1);
        // v = (1 - β₂) g² = 0.009; in f32, 1 - 0.999 carries a relative error of about
        // 2⁻²⁴ / 0.001 ≈ 6e-5, hence the relative tolerance 1e-4.
        assert!((state.moment2[0].values[0] / 0.009 - 1.0).abs() < 1e-4);
    }

    #[test]
    fn clipping_rescales_the_gradient_to_the_given_norm() {
        // Clipping at 1 rescales g = (3, 4) (norm 5) to (0.6, 0.8): m = 0.1 g' after one step.
        let mut state = AdamState::default();
        let mut params = [tensor("w", vec![0.0, 0.0])];
        let grads = [tensor("w", vec![3.0, 4.0])];
        let report = state
            .update(&settings(Some(1.0)), &mut params, &grads)
            .unwrap();
        assert!(report.clipped && (report.grad_norm - 5.0).abs() < 1e-9);
        assert!((state.moment1[0].values[0] - 0.06).abs() < 1e-7);
        assert!((state.moment1[0].values[1] - 0.08).abs() < 1e-7);
        let mut unclipped = AdamState::default();
        let mut params = [tensor("w", vec![0.0, 0.0])];
        let report = unclipped
            .update(&settings(Some(10.0)), &mut params, &grads)
            .unwrap();
        assert!(!report.clipped);
        assert!((unclipped.moment1[0].values[0] - 0.3).abs() < 1e-7);
    }

    #[test]
    fn a_non_finite_gradient_is_refused_and_leaves_the_state_unchanged() {
        let mut state = AdamState::default();
        let mut params = [tensor("a", vec![1.0]), tensor("b", vec![1.0, 2.0])];
        let good = [tensor("a", vec![1.0]), tensor("b", vec![1.0, 1.0])];
        state.update(&settings(None), &mut params, &good).unwrap();
        let before = (state.clone(), params.clone());
        let bad = [tensor("a", vec![1.0]), tensor("b", vec![1.0, f32::NAN])];
        let err = state
            .update(&settings(None), &mut params, &bad)
            .unwrap_err();
        match err {
            UpdateError::Gradient {
                parameter, index, ..
            } => assert_eq!((parameter.as_str(), index), ("b", 1)),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!((state, params), before);
    }

    #[test]
    fn an_update_to_infinity_is_refused() {
        let mut state = AdamState::default();
        let huge = AdamSettings {
            learning_rate: 1e39,
            ..settings(None)
        };
        let mut params = [tensor("w", vec![0.0]), tensor("u", vec![0.0])];
        let grads = [tensor("w", vec![0.0]), tensor("u", vec![1.0])];
        let err = state.update(&huge, &mut params, &grads).unwrap_err();
        assert!(matches!(err, UpdateError::Parameter { .. }), "{err:?}");
        assert_eq!(state, AdamState::default());
        assert_eq!(params[0].values, [0.0], "nothing was committed");
    }
}
