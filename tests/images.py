import io

from PIL import Image


def png_bytes(size: tuple[int, int] = (8, 8), colour: str = "#1F4E79", image_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=image_format)
    return buffer.getvalue()
