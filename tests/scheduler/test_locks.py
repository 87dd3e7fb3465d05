"""The leader lock itself: exclusive, released on release, lost when the session dies."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tracker.scheduler.leader import PostgresLeaderLock, lock_for, wait_for_leadership


def test_only_one_holder_at_a_time(engine: Engine) -> None:
    first, second = lock_for(engine), lock_for(engine)
    try:
        assert first.try_acquire() and first.still_held()
        assert not second.try_acquire() and not second.still_held()
        first.release()
        assert not first.still_held()
        assert second.try_acquire()
    finally:
        first.release()
        second.release()


def test_a_standby_waits_until_the_lock_is_free(engine: Engine) -> None:
    leader, standby = lock_for(engine), lock_for(engine)
    assert leader.try_acquire()
    stop = threading.Event()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(wait_for_leadership(standby, stop, 0.05)))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # still waiting
    leader.release()
    waiter.join(5)
    assert result == [True]
    standby.release()

    # A standby told to stop gives up without the lock.
    leader = lock_for(engine)
    assert leader.try_acquire()
    stop.set()
    assert wait_for_leadership(lock_for(engine), stop, 0.05) is False
    leader.release()


def test_postgres_lock_is_lost_with_its_session(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        return  # the file lock cannot be taken away from a live process
    lock = PostgresLeaderLock(engine)
    try:
        assert lock.try_acquire()
        with engine.connect() as conn:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'tracker-scheduler' AND pid <> pg_backend_pid()"))
            conn.commit()
        assert not lock.still_held()
        successor = lock_for(engine)
        assert successor.try_acquire()  # free again for the next leader
        successor.release()
    finally:
        lock.release()
