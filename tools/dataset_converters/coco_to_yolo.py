"""Write a COCO detection split in the YOLO layout that ``YoloDataset`` reads.

``python tools/dataset_converters/coco_to_yolo.py ANN_FILE IMG_DIR OUT_DIR --split val``

E.g. the built-in shapes data (both splits; configs/_base_/datasets/yolo_detection.py reads it)::

    python tools/dataset_converters/coco_to_yolo.py data/shapes/annotations/instances_train.json \
        data/shapes/train data/shapes_yolo --split train
    python tools/dataset_converters/coco_to_yolo.py data/shapes/annotations/instances_val.json \
        data/shapes/val data/shapes_yolo --split val
"""
import argparse

from vitdense.datasets.coco_to_yolo import coco_to_yolo


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='COCO detection split -> YOLO layout')
    parser.add_argument('ann_file', help='COCO json of the split')
    parser.add_argument('img_dir', help='folder of its images')
    parser.add_argument('out_dir', help='YOLO dataset folder (images/, labels/, data.yaml)')
    parser.add_argument('--split', required=True, choices=['train', 'val', 'test'])
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    counts = coco_to_yolo(args.ann_file, args.img_dir, args.out_dir, args.split)
    print(f"wrote {counts['images']} images, {counts['boxes']} boxes to {args.out_dir} "
          f"({args.split}); left out {counts['crowd']} crowd boxes (YOLO has no ignore regions)")


if __name__ == '__main__':
    main()
