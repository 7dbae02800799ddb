//! A model's tensors as named host vectors, and back: what the optimiser and the training
//! state work on.

use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut, ViewTensorName,
    ViewTensorRef,
};
use dfdx::prelude::*;

/// One tensor of a model, copied to the host.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// The dotted path dfdx gives it, e.g. `decoder.0.weight` (the safetensors name).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Whether the optimiser updates it.
    pub trainable: bool,
    /// Its values, row-major.
    pub values: Vec<f32>,
}

/// Copies every tensor of `model` to the host, in the model's visiting order.
///
/// # Errors
/// The device's error (e.g. out of memory).
pub fn read_tensors<M, D>(model: &M) -> Result<Vec<NamedTensor>, D::Err>
where
    M: TensorCollection<f32, D>,
    D: Device<f32>,
{
    read(model, None)
}

/// Copies the gradient of every trainable tensor of `model` to the host, in visiting order;
/// a tensor without a gradient gets zeros (allocated in `grads`).
///
/// # Errors
/// The device's error (e.g. out of memory).
pub fn read_gradients<M, D>(
    model: &M,
    grads: &mut Gradients<f32, D>,
) -> Result<Vec<NamedTensor>, D::Err>
where
    M: TensorCollection<f32, D>,
    D: Device<f32>,
{
    read(model, Some(grads))
}

/// [`read_gradients`] into `out`, reusing its buffers: after the first call of a training loop
/// it allocates nothing but the names, and on the CPU device each gradient is copied once.
///
/// # Errors
/// The device's error (e.g. out of memory).
pub fn read_gradients_into<M, D>(
    model: &M,
    grads: &mut Gradients<f32, D>,
    out: &mut Vec<NamedTensor>,
) -> Result<(), D::Err>
where
    M: TensorCollection<f32, D>,
    D: Device<f32>,
{
    gradients_into(model, grads, out, Access::Copy)
}

/// [`read_gradients_into`] that moves instead of copying where it can: on the CPU device each
/// gradient buffer is exchanged with the matching buffer of `out` (no copy) and the buffer left
/// in `grads` is set to zero, ready for the next backward pass (what
/// [`ZeroGrads::zero_grads`](dfdx::nn::ZeroGrads) would do). Elsewhere it copies and zeroes.
///
/// # Errors
/// The device's error (e.g. out of memory).
pub fn take_gradients_into<M, D>(
    model: &M,
    grads: &mut Gradients<f32, D>,
    out: &mut Vec<NamedTensor>,
) -> Result<(), D::Err>
where
    M: TensorCollection<f32, D>,
    D: Device<f32>,
{
    gradients_into(model, grads, out, Access::Take)
}

/// Whether a gradient is copied out of [`Gradients`] or taken (leaving zeros).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Copy,
    Take,
}

fn gradients_into<M, D>(
    model: &M,
    grads: &mut Gradients<f32, D>,
    out: &mut Vec<NamedTensor>,
    access: Access,
) -> Result<(), D::Err>
where
    M: TensorCollection<f32, D>,
    D: Device<f32>,
{
    let mut reader = Reader {
        grads: Some(grads),
        access,
        recycled: std::mem::take(out).into_iter(),
        out: Vec::new(),
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut reader,
    })?;
    *out = reader.out;
    Ok(())
}

/// Walks `model` in visiting order, copying each tensor (or, given `grads`, each trainable
/// tensor's gradient) to the host.
fn read<M, D>(model: &M, grads: Option<&mut Gradients<f32, D>>) -> Result<Vec<NamedTensor>, D::Err>
where
    M: TensorCollection<f32, D>,
    D: Device<f32>,
{
    let mut reader = Reader {
        grads,
        access: Access::Copy,
        recycled: Vec::new().into_iter(),
        out: Vec::new(),
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut reader,
    })?;
    Ok(reader.out)
}

/// Copies `tensors` (in the model's visiting order, as [`read_tensors`] or the optimiser gives
/// them) into `model`. With `trainable_only`, `tensors` lists only the trainable tensors.
///
/// # Errors
/// A message naming the first tensor whose name or number of values does not match.
pub fn write_tensors<M, D>(
    model: &mut M,
    tensors: &[NamedTensor],
    trainable_only: bool,
) -> Result<(), String>
where
    M: TensorCollection<f32, D>,
    D: Device<f32>,
{
    let mut writer = Writer {
        tensors,
        next: 0,
        trainable_only,
        error: None,
    };
    let walked = M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut writer,
    });
    if let Some(error) = writer.error {
        return Err(error);
    }
    walked.map_err(|e| format!("device error: {e:?}"))?;
    if writer.next != tensors.len() {
        return Err(format!(
            "{} tensors given but the model has {}",
            tensors.len(),
            writer.next
        ));
    }
    Ok(())
}

struct Reader<'g, D: Device<f32>> {
    grads: Option<&'g mut Gradients<f32, D>>,
    access: Access,
    /// Buffers of an earlier read, reused in order.
    recycled: std::vec::IntoIter<NamedTensor>,
    out: Vec<NamedTensor>,
}

impl<D: Device<f32>> TensorVisitor<f32, D> for Reader<'_, D> {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = D::Err;
    type E2 = f32;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f32, D>,
        (t, name): (&Tensor<S, f32, D>, String),
    ) -> Result<Option<Tensor<S, f32, D>>, Self::Err> {
        let shape: Vec<usize> = t.shape().concrete().into_iter().collect();
        let values = match self.grads.as_deref_mut() {
            None => t.as_vec(),
            Some(_) if !opts.do_gradient_update => return Ok(None),
            Some(grads) => {
                let mut values = self.recycled.next().map(|r| r.values).unwrap_or_default();
                copy_gradient(grads, t, &mut values, self.access)?;
                values
            }
        };
        self.out.push(NamedTensor {
            name,
            shape,
            trainable: opts.do_gradient_update,
            values,
        });
        Ok(None)
    }
}

/// Copies the gradient of `t` (allocated as zeros when absent) into `out`; taken, the gradient
/// is left zero. On the CPU device the gradient is read in place (one copy, or an exchange of
/// buffers when taken); elsewhere through a device tensor.
fn copy_gradient<S: Shape, D: Device<f32>>(
    grads: &mut Gradients<f32, D>,
    t: &Tensor<S, f32, D>,
    out: &mut Vec<f32>,
    access: Access,
) -> Result<(), D::Err> {
    use std::any::Any;
    let on_cpu = (grads as &mut dyn Any).downcast_mut::<Gradients<f32, Cpu>>();
    if let (Some(cpu_grads), Some(cpu_t)) = (
        on_cpu,
        (t as &dyn Any).downcast_ref::<Tensor<S, f32, Cpu>>(),
    ) {
        if let Ok(values) = cpu_grads.get_or_alloc_mut(cpu_t) {
            let values: &mut Vec<f32> = values;
            match access {
                Access::Copy => {
                    out.clear();
                    out.extend_from_slice(values);
                }
                Access::Take => {
                    out.resize(values.len(), 0.0);
                    std::mem::swap(out, values);
                    values.fill(0.0);
                }
            }
            return Ok(());
        }
    }
    grads.try_alloc_for(t)?;
    let gradient = grads.get(t);
    out.resize(gradient.shape().num_elements(), 0.0);
    gradient.copy_into(out);
    if access == Access::Take {
        t.device().try_fill_with_zeros(grads.get_or_alloc_mut(t)?)?;
    }
    Ok(())
}

struct Writer<'a> {
    tensors: &'a [NamedTensor],
    next: usize,
    trainable_only: bool,
    error: Option<String>,
}

impl<D: Device<f32>> TensorVisitor<f32, D> for Writer<'_> {
    type Viewer = (ViewTensorMut, ViewTensorName);
    type Err = D::Err;
    type E2 = f32;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f32, D>,
        (t, name): (&mut Tensor<S, f32, D>, String),
    ) -> Result<Option<Tensor<S, f32, D>>, Self::Err> {
        if self.error.is_some() || (self.trainable_only && !opts.do_gradient_update) {
            return Ok(None);
        }
        let index = self.next;
        self.next += 1;
        match self.tensors.get(index) {
            Some(given) if given.name == name && given.values.len() == t.shape().num_elements() => {
                t.copy_from(&given.values);
            }
            Some(given) => {
                self.error = Some(format!(
                    "tensor {index} is `{}` with {} values, but the model's is `{name}` with {}",
                    given.name,
                    given.values.len(),
                    t.shape().num_elements()
                ));
            }
            None => {
                self.error = Some(format!(
                    "the model's tensor `{name}` (number {index}) has no values"
                ))
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::nn::builders::Linear;

    #[test]
    fn tensors_round_trip_by_name() {
        let dev = Cpu::default();
        let mut model = dev.build_module::<Linear<3, 2>, f32>();
        let mut tensors = read_tensors(&model).unwrap();
        let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["weight", "bias"]);
        assert_eq!(tensors[0].shape, [2, 3]);
        tensors[1].values = vec![7.0, -7.0];
        write_tensors(&mut model, &tensors, false).unwrap();
        assert_eq!(model.bias.as_vec(), [7.0, -7.0]);
        tensors[1].name = "other".into();
        let err = write_tensors(&mut model, &tensors, false).unwrap_err();
        assert!(err.contains("`other`") && err.contains("`bias`"), "{err}");
        let err = write_tensors(&mut model, &tensors[..1], false).unwrap_err();
        assert!(err.contains("bias"), "{err}");
    }

    #[test]
    fn taking_gradients_gives_their_values_and_leaves_zeros() {
        let dev = Cpu::seed_from_u64(1);
        let model = dev.build_module::<Linear<3, 2>, f32>();
        let x: Tensor<Rank2<4, 3>, f32, Cpu> = dev.sample_normal();
        let backward = || {
            let y = model.forward(x.clone().traced(model.alloc_grads()));
            y.square().sum().backward()
        };
        let mut grads = backward();
        let copied = read_gradients(&model, &mut grads).unwrap();
        assert!(copied.iter().all(|t| t.values.iter().any(|&g| g != 0.0)));
        // Twice, so that the second take exchanges buffers with the first one's.
        let mut taken = Vec::new();
        for _ in 0..2 {
            let mut grads = backward();
            take_gradients_into(&model, &mut grads, &mut taken).unwrap();
            assert_eq!(taken, copied);
            let left = read_gradients(&model, &mut grads).unwrap();
            assert!(
                left.iter().all(|t| t.values.iter().all(|&g| g == 0.0)),
                "{left:?}"
            );
        }
    }
}
