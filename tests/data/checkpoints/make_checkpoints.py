"""Write a tiny SSD checkpoint trained by real MXNet 1.9.1, and MXNet's detections on a fixed image.

    .venv-mxnet/bin/python tests/data/checkpoints/make_checkpoints.py

Files (all < 1 MB together):
  * tiny-symbol.json          the *train* symbol (what example/ssd/train saves), `tiny` config at 64 px,
                              3 classes, built by ssdref.model's builder running on MXNet (`mx=mxnet`);
  * tiny-0002.params          arg:/aux: params after 2 epochs of 6 SGD iterations (batch 8) on
                              ssdref's synthetic shapes, input = RGB pixels minus the example's mean
                              (123, 117, 104), as the example's detector feeds them;
  * tiny_deploy-symbol.json   the deploy symbol (softmax + MultiBoxDetection), same parameters
                              (example/ssd/deploy.py would save it beside a copy of the params);
  * image.npy                 a fixed (3, 64, 64) uint8 RGB test image (shapes 'test' split, image 0);
  * mxnet_detections.npy      MXNet's deploy-graph output (1, A, 6) float32 on that image, mean
                              subtracted, nms_threshold 0.5, nms_topk 400 (get_symbol's defaults);
  * mxnet_train_det_out.npy   the same image through the train symbol's `det_out` (label all -1).
"""
import os

import numpy as np
import mxnet as mx

from ssdref.data.shapes import MEAN_RGB, make_images, normalize
from ssdref.model import get_config, get_symbol, get_symbol_train

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = os.path.join(HERE, "tiny")
EPOCHS, ITERS, BATCH = 2, 6, 8
NUM_CLASSES, DATA_SHAPE = 3, 64


def main():
    mx.random.seed(0)
    np.random.seed(0)
    net = get_symbol_train(mx=mx, **get_config("tiny", DATA_SHAPE, num_classes=NUM_CLASSES))
    images, labels = make_images(EPOCHS * ITERS * BATCH, DATA_SHAPE, seed=0, split="train")
    data = normalize(images, MEAN_RGB, 1.0)
    mod = mx.mod.Module(net, data_names=("data",), label_names=("label",), context=mx.cpu())
    mod.bind(data_shapes=[("data", (BATCH, 3, DATA_SHAPE, DATA_SHAPE))],
             label_shapes=[("label", (BATCH,) + labels.shape[1:])])
    mod.init_params(initializer=mx.init.Xavier(rnd_type="gaussian", factor_type="out", magnitude=2))
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.0005, "momentum": 0.9,
                                                          "wd": 0.0005, "rescale_grad": 1.0})
    for epoch in range(EPOCHS):
        for it in range(ITERS):
            k = (epoch * ITERS + it) * BATCH
            batch = mx.io.DataBatch(data=[mx.nd.array(data[k:k + BATCH])],
                                    label=[mx.nd.array(labels[k:k + BATCH])])
            mod.forward(batch, is_train=True)
            mod.backward()
            mod.update()
    arg_params, aux_params = mod.get_params()
    mx.model.save_checkpoint(PREFIX, EPOCHS, net, arg_params, aux_params)

    deploy = get_symbol(mx=mx, **get_config("tiny", DATA_SHAPE, num_classes=NUM_CLASSES))
    deploy.save(os.path.join(HERE, "tiny_deploy-symbol.json"))
    test_images, _ = make_images(1, DATA_SHAPE, seed=0, split="test")
    image = test_images[0].transpose(2, 0, 1).copy()               # (3, H, W) uint8 RGB
    np.save(os.path.join(HERE, "image.npy"), image)
    x = mx.nd.array(normalize(test_images, MEAN_RGB, 1.0))

    exe = deploy.simple_bind(mx.cpu(), grad_req="null", data=x.shape)
    exe.copy_params_from(arg_params, aux_params, allow_extra_params=True)
    det = exe.forward(is_train=False, data=x)[0].asnumpy()
    np.save(os.path.join(HERE, "mxnet_detections.npy"), det)

    label = mx.nd.full((1, 4, 6), -1.0)
    exe = net.simple_bind(mx.cpu(), grad_req="null", data=x.shape, label=label.shape)
    exe.copy_params_from(arg_params, aux_params)
    out = exe.forward(is_train=False, data=x, label=label)
    np.save(os.path.join(HERE, "mxnet_train_det_out.npy"), out[3].asnumpy())
    print("valid detections:", int((det[0, :, 0] >= 0).sum()), "of", det.shape[1],
          "max score", float(det[0, :, 1].max()))


if __name__ == "__main__":
    main()
