//! Every built-in output family passes the conformance suite
//! (`dlvm_runtime::family::conformance`): normalisation by summation or Simpson quadrature,
//! density bounds, mean/variance against the density, sample moments within 5 Monte Carlo
//! standard errors (`z = 5`, see the suite's docs for the standard errors), finite gradients on
//! the support, and rejection of out-of-support data.

use dlvm_runtime::family::conformance::{Conformance, Domain};
use dlvm_runtime::family::{
    Bernoulli, Categorical, ContinuousBernoulli, Diagonal, Gaussian, Isotropic, Poisson, StudentT,
};
use dlvm_runtime::family_conformance_test;

fn counts(max: u32) -> Domain {
    Domain::Points((0..=max).map(|k| k as f32).collect())
}

family_conformance_test!(
    bernoulli_conforms,
    Bernoulli,
    Conformance::new(
        Domain::Points(vec![0.0, 1.0]),
        vec![vec![-2.0, 0.0], vec![0.7, 6.0]]
    )
    .coordinates(2)
    .outside(vec![0.5, -1.0, 2.0])
);

// 130 coordinates: `sample_coordinates` draws 86 of them, more than Bernoulli's 64 random
// words at a time.
family_conformance_test!(
    bernoulli_conforms_on_many_coordinates,
    Bernoulli,
    Conformance::new(
        Domain::Points(vec![0.0, 1.0]),
        vec![(0..130).map(|k| 4.0 * (0.37 * k as f32).sin()).collect()]
    )
    .coordinates(130)
    .draws(5000)
    .outside(vec![0.5])
);

family_conformance_test!(
    diagonal_gaussian_conforms,
    Gaussian::<Diagonal>::with_floor(0.01).unwrap(),
    Conformance::new(
        Domain::Interval {
            lo: -30.0,
            hi: 30.0,
            steps: 12_000
        },
        vec![vec![0.5, -1.0, 0.3, -2.0], vec![3.0, 0.0, -6.0, 1.0]]
    )
    .coordinates(2)
    .outside(vec![f32::INFINITY])
);

family_conformance_test!(
    isotropic_gaussian_conforms,
    Gaussian::<Isotropic>::with_floor(0.05).unwrap(),
    Conformance::new(
        Domain::Interval {
            lo: -30.0,
            hi: 30.0,
            steps: 12_000
        },
        vec![vec![0.5, -1.0, 0.2]]
    )
    .coordinates(2)
);

family_conformance_test!(
    categorical_conforms,
    Categorical::<4>,
    Conformance::new(
        counts(3),
        vec![
            vec![0.0; 8],
            vec![1.0, -2.0, 0.5, 3.0, -1.0, 0.0, 2.0, -0.5]
        ]
    )
    .coordinates(2)
    .outside(vec![4.0, -1.0, 0.5])
);

family_conformance_test!(
    poisson_conforms,
    Poisson,
    Conformance::new(counts(150), vec![vec![-3.0, 0.5, 3.0]])
        .coordinates(3)
        .outside(vec![-1.0, 2.5])
);

family_conformance_test!(
    student_t_conforms,
    StudentT::default(),
    // Degrees of freedom 3 + softplus(2) = 5.1 and 3 + softplus(8) = 11: the fourth moment the
    // variance check's standard error needs exists (ν > 4).
    Conformance::new(
        Domain::Interval {
            lo: -150.0,
            hi: 150.0,
            steps: 30_000
        },
        vec![vec![0.3, -1.0, 0.0, -2.0, 2.0, 8.0]]
    )
    .coordinates(2)
);

family_conformance_test!(
    continuous_bernoulli_conforms,
    ContinuousBernoulli,
    Conformance::new(
        Domain::Interval {
            lo: 0.0,
            hi: 1.0,
            steps: 4_000
        },
        vec![vec![-8.0, -0.005, 0.0], vec![1.5, 20.0, 0.004]]
    )
    .coordinates(3)
    .outside(vec![-0.1, 1.5])
);
