"""Clara 3.x's NegLoss aux op, as a ComputeAverage metric averaged it, written out for
the generated scripts (claragen.transpiler.written): MONAI has no metric of a negated
loss. Clara documents NegLoss as emitting the negated loss under its tag
(CLARA_COMPONENTS.md, aux ops), and ComputeAverage as averaging a field over the
validation."""

from monai.handlers import IgniteMetricHandler, from_engine
from monai.metrics import LossMetric


class ClaraNegLoss:
    """Clara 3.x's NegLoss aux op averaged by ComputeAverage: the training loss of each
    validation case, computed on the network's output before the post-transforms and the
    label as the loss reads it, negated (a score: higher is better), averaged over the
    cases ("pred_raw" and "label_raw": CopyItemsd copies them ahead of the
    post-transforms); ComputeAverage's negate_value negates it again. A case whose value
    is NaN is left out of the average, as ComputeAverage's default invalid_value did. The
    plain loop calls it as a MONAI metric; MONAI's engines attach it as a handler
    metric."""

    def __init__(self, loss, negate_value=False, output_transform=None):
        sign = 1 if negate_value else -1
        self.metric = LossMetric(loss_fn=lambda y_pred, y: sign * loss(y_pred, y))
        self.output_transform = output_transform or from_engine(
            ["pred_raw", "label_raw"]
        )

    def __call__(self, y_pred, y):
        return self.metric(y_pred=y_pred, y=y)

    def aggregate(self):
        return self.metric.aggregate()

    def reset(self):
        self.metric.reset()

    def attach(self, engine, name):
        IgniteMetricHandler(
            metric_fn=self.metric, output_transform=self.output_transform
        ).attach(engine, name)
