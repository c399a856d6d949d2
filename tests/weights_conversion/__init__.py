"""Tests of weights_conversion: conversion parity per architecture and format, export, interpolation, errors."""
