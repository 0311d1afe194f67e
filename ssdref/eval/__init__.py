"""ssdref.eval: example/ssd's metrics: MApMetric / VOC07MApMetric (validation), MultiBoxMetric (training)."""
from ssdref.eval.map_metric import MApMetric, VOC07MApMetric
from ssdref.eval.multibox_metric import MultiBoxMetric

__all__ = ["MApMetric", "VOC07MApMetric", "MultiBoxMetric"]
