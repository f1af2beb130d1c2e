"""Tests of pure logic: fakes and task.Clock, no server at all."""
