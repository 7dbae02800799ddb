//! The user-written negative-binomial family of `examples/negative_binomial/family.rs` passes the
//! conformance suite (normalisation by summation over 0..=400, sample moments within 5 Monte
//! Carlo standard errors, finite gradients, out-of-support rejection), and its log-density
//! matches the closed form.

#[path = "../examples/negative_binomial/family.rs"]
mod family;

use dlvm::family::conformance::{check_family, Conformance, Domain};
use dlvm::family::special::ln_gamma_f64;
use dlvm::family::{FamilyBuilder, OutputFamily};
use dlvm::prelude::*;
use family::{NegativeBinomial, NegativeBinomialBuilder};

fn spec() -> Conformance {
    // p = 2: log-means (0.5, 2.0), dispersion pre-activations (1.0, -1.0): μ = (1.65, 7.39),
    // r = (1.41, 0.41): variances 3.6 and 140, mass beyond 400 below 10⁻⁹.
    Conformance::new(
        Domain::Points((0..=400).map(|k| k as f32).collect()),
        vec![vec![0.5, 2.0, 1.0, -1.0], vec![-1.0, 0.0, 3.0, 0.0]],
    )
    .coordinates(2)
    .outside(vec![-1.0, 0.5, 3.25])
}

#[test]
fn negative_binomial_conforms() {
    let family = NegativeBinomial::new(0.1).unwrap();
    let report = check_family(&Cpu::default(), &family, &spec()).unwrap_or_else(|e| panic!("{e}"));
    println!("{report:?}");
}

#[test]
fn negative_binomial_log_density_is_the_closed_form() {
    let family = NegativeBinomial::new(0.1).unwrap();
    let dev = Cpu::default();
    let raw = vec![0.5f32, 2.0, 1.0, -1.0];
    let x = vec![3.0f32, 0.0];
    let got = family
        .log_prob(
            dev.tensor_from_vec(raw.clone(), (1, 4)),
            dev.tensor_from_vec(x.clone(), (1, 2)),
        )
        .as_vec();
    for j in 0..2 {
        let (mu, r) = family.parameters(&raw, 2, j);
        let k = f64::from(x[j]);
        let want = ln_gamma_f64(k + r) - ln_gamma_f64(r) - ln_gamma_f64(k + 1.0)
            + r * (r / (r + mu)).ln()
            + k * (mu / (r + mu)).ln();
        assert!(
            (f64::from(got[j]) - want).abs() < 1e-4,
            "{} vs {want}",
            got[j]
        );
    }
}

#[test]
fn a_total_count_floor_that_is_not_positive_names_the_argument() {
    let err = NegativeBinomialBuilder::default()
        .min_total_count(0.0)
        .build()
        .unwrap_err();
    assert_eq!(err.argument, "min_total_count");
    assert!(err.to_string().contains("NegativeBinomial"), "{err}");
}

#[test]
fn a_broken_negative_binomial_fails_the_suite() {
    // The Poisson has the negative binomial's mean but not its variance: used as the sampler of a
    // family whose density is the negative binomial, the sample-variance check must fail.
    #[derive(Debug, Clone, Copy, Default)]
    struct PoissonSampler;
    impl OutputFamily for PoissonSampler {
        const NAME: &'static str = "PoissonSampler";
        const PARAMS_PER_COORD: usize = 2;
        const DISCRETE: bool = true;
        type Builder = dlvm::family::NoArguments<PoissonSampler>;
        fn log_prob<D: Device<f32>, T: dlvm::dfdx::prelude::Tape<f32, D>>(
            &self,
            raw: Tensor<(usize, usize), f32, D, T>,
            x: Tensor<(usize, usize), f32, D>,
        ) -> Tensor<(usize, usize), f32, D, T> {
            NegativeBinomial::new(0.1).unwrap().log_prob(raw, x)
        }
        fn sample_row(&self, raw: &[f32], rng: &mut dyn rand::RngCore, out: &mut [f32]) {
            let p = out.len();
            Poisson.sample_row(&raw[..p], rng, out);
        }
        fn mean_row(&self, raw: &[f32], out: &mut [f32]) {
            NegativeBinomial::new(0.1).unwrap().mean_row(raw, out);
        }
        fn in_support(&self, x: f32) -> bool {
            Poisson.in_support(x)
        }
    }
    let err = check_family(&Cpu::default(), &PoissonSampler, &spec()).unwrap_err();
    assert_eq!(err.check, "sample variance", "{err}");
}

// The one-line form, through the `dlvm` facade, with a larger total-count floor.
dlvm::family_conformance_test!(
    negative_binomial_with_a_higher_floor_conforms,
    NegativeBinomial::new(0.5).unwrap(),
    spec()
);
