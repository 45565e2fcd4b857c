"""The image_preprocessor: the arithmetic on crafted images, the encodings, bad images."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from services.image_preprocessor import create_app
from services.image_preprocessor.preprocess import decode_tensor
from tests.helpers.bad_images import b64, bad_images, encoded, png_header


@pytest.fixture(scope="module")
def client():
    return create_app({"LOAD_MODEL": "sync"}).test_client()


def solid(width: int, height: int, colour=(200, 100, 50)) -> str:
    return b64(encoded(Image.new("RGB", (width, height), colour)))


def run(client, **body):
    response = client.post("/predict", json=body)
    assert response.status_code == 200, response.get_json()
    result = response.get_json()["result"]
    return result, decode_tensor(result["tensor"], result["shape"]) \
        if result["encoding"] == "base64" else np.array(result["tensor"], np.float32)


def test_defaults_give_224_rgb_hwc_in_0_to_1(client):
    result, tensor = run(client, image=solid(40, 30))
    assert result["shape"] == [224, 224, 3] and result["dtype"] == "float32"
    assert result["byte_order"] == "little" and result["encoding"] == "base64"
    assert (result["original_width"], result["original_height"]) == (40, 30)
    assert np.allclose(tensor[100, 100], np.array([200, 100, 50]) / 255, atol=1e-6)


def test_scale_mean_std_bgr_chw_and_batch_axis(client):
    _, tensor = run(client, image=solid(20, 10), width=4, height=2, scale=1.0,
                    mean=[100, 50, 25], std=[2, 5, 25], channel_order="BGR", layout="CHW",
                    batch_dim=True)
    assert tensor.shape == (1, 3, 2, 4)
    # ((200, 100, 50) - mean) / std = (50, 10, 1), then reversed to B, G, R
    assert np.allclose(tensor[0, :, 0, 0], [1, 10, 50])


def test_imagenet_normalisation(client):
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    _, tensor = run(client, image=solid(16, 16), width=8, height=8, mean=mean, std=std)
    expected = (np.array([200, 100, 50]) / 255 - mean) / std
    assert np.allclose(tensor[3, 3], expected, atol=1e-5)


def test_letterbox_pads_around_the_centred_image(client):
    result, tensor = run(client, image=solid(200, 100), width=64, height=64,
                         resize="letterbox", pad_value=0)
    assert (result["scale_x"], result["scale_y"]) == (0.32, 0.32)
    assert (result["offset_x"], result["offset_y"]) == (0.0, 16.0)
    assert np.allclose(tensor[:16], 0) and np.allclose(tensor[48:], 0)
    assert np.allclose(tensor[32, 32], np.array([200, 100, 50]) / 255, atol=1e-6)


def test_center_crop_fills_the_frame(client):
    result, tensor = run(client, image=solid(200, 100), width=50, height=50,
                         resize="center_crop")
    assert result["scale_y"] == 0.5 and result["offset_x"] == -25.0
    assert np.allclose(tensor, np.array([200, 100, 50]) / 255, atol=1e-6)


def test_stretch_matches_pillow_bilinear(client):
    image = Image.effect_noise((37, 23), 60).convert("RGB")
    _, tensor = run(client, image=b64(encoded(image)), width=16, height=12)
    expected = np.asarray(image.resize((16, 12), Image.BILINEAR), np.float32) / 255
    assert np.allclose(tensor, expected, atol=1e-6)


def test_list_encoding_equals_base64(client):
    _, as_list = run(client, image=solid(9, 9), width=5, height=3, encoding="list")
    _, as_b64 = run(client, image=solid(9, 9), width=5, height=3)
    assert as_list.shape == (3, 5, 3) and np.array_equal(as_list, as_b64)


@pytest.mark.parametrize("body,field", [
    ({"width": 0}, "width"), ({"width": 5000}, "width"), ({"resize": "squash"}, "resize"),
    ({"mean": [1, 2]}, "mean"), ({"std": [1, 0, 1]}, "std"), ({"layout": "NHWC"}, "layout"),
    ({"encoding": "list", "width": 1024, "height": 1024}, "encoding"),
    ({"channel_order": "GBR"}, "channel_order"),
])
def test_bad_recipes_are_refused_naming_the_field(client, body, field):
    response = client.post("/predict", json={"image": solid(10, 10), **body})
    assert response.status_code == 400
    assert field in response.get_json()["error"]["details"]


@pytest.mark.parametrize("case", sorted(bad_images()))
def test_bad_images_are_refused_cleanly(client, case):
    image, status = bad_images()[case]
    response = client.post("/predict", json={"image": image})
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] in ("invalid_input", "payload_too_large") and error["message"]


def test_a_bad_image_in_a_batch_is_named_by_index(client):
    response = client.post("/predict", json=[{"image": solid(10, 10)},
                                             {"image": bad_images()["one_pixel"][0]}])
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith("items[1].image")


def test_gif_and_jpeg_are_read(client):
    for fmt in ("GIF", "JPEG"):
        result, _ = run(client, image=b64(encoded(Image.new("RGB", (12, 12), (9, 9, 9)), fmt)),
                        width=4, height=4)
        assert result["shape"] == [4, 4, 3]


# as in a service process, where common.media.images turns the warning into an error
@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_a_header_just_over_the_pixel_limit_is_refused(client):
    # 7000 x 7000 = 49 MP: over the 40 MP limit, under the 80 MP where Pillow itself errs
    response = client.post("/predict", json={"image": b64(png_header(7000, 7000))})
    assert response.status_code == 413
    assert response.get_json()["error"]["details"]["max_pixels"] == 40_000_000


def test_the_limits_are_configurable():
    client = create_app({"LOAD_MODEL": "sync", "IMAGE_MAX_PIXELS": 20_000,
                         "IMAGE_MAX_BYTES": 50_000}).test_client()
    response = client.post("/predict", json={"image": solid(200, 200)})
    assert response.status_code == 413
    assert "200x200" in response.get_json()["error"]["message"]
    pixels = np.random.default_rng(0).integers(0, 256, (140, 140, 3), dtype=np.uint8)
    noise = b64(encoded(Image.fromarray(pixels)))  # 19600 pixels, but about 59 KB
    response = client.post("/predict", json={"image": noise})
    assert response.status_code == 413 and "bytes" in response.get_json()["error"]["message"]
