"""The queue directory: the names of its files, and reading job files back (the
live jobs at start, archived jobs when asked for). The layout is described in
the package docstring; files are written by the writer (writer.py) and, for the
version and drain files, by the JobQueue with ``utils.io.write_file``."""

import logging
import os
import re

from ganeti import constants, serializer
from ganeti.jqueue.job import QueuedJob
from ganeti.utils import io

_JOB_FILE_RE = re.compile(r"^job-(\d+)$")
_TEMP_FILE_RE = re.compile(r"^\.(job-\d+|serial|version|drain)\.")


class QueueDir:
    """The files of one queue directory."""

    def __init__(self, path):
        self.path = path
        self.archive_dir = os.path.join(path, "archive")
        self.serial_file = os.path.join(path, "serial")
        self.version_file = os.path.join(path, "version")
        self.drain_file = os.path.join(path, "drain")

    def job_path(self, job_id):
        return os.path.join(self.path, "%s%d" % (constants.JOB_FILE_PREFIX, job_id))

    def archive_path(self, job_id):
        return os.path.join(self.archive_dir,
                            str(job_id // constants.JOB_ARCHIVE_DIRECTORY_SIZE),
                            "%s%d" % (constants.JOB_FILE_PREFIX, job_id))

    def remove_temp_files(self):
        """Remove temporary files left by writes that a crash interrupted."""
        for name in os.listdir(self.path):
            if _TEMP_FILE_RE.match(name):
                io.remove_file(os.path.join(self.path, name))

    def read_serial(self):
        """The last job id handed out, as written (0 if missing or unreadable)."""
        try:
            return int(io.read_one_line_file(self.serial_file))
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as err:
            logging.error("Can not read the job queue serial file: %s", err)
            return 0

    def load_jobs(self):
        """The live jobs by id; unreadable job files are renamed to ``*.corrupt``."""
        jobs = {}
        for name in os.listdir(self.path):
            match = _JOB_FILE_RE.match(name)
            if not match:
                continue
            job_id = int(match.group(1))
            path = os.path.join(self.path, name)
            try:
                data = serializer.load_json(io.read_file(path, binary=True))
                job = QueuedJob.restore(data)
                if job.id != job_id:
                    raise ValueError("file holds job %s" % job.id)
            except Exception as err:  # any parse problem: set the file aside
                logging.error("Job file %s is corrupted (%s); moving it to %s.corrupt",
                              path, err, path)
                try:
                    os.rename(path, path + ".corrupt")
                except OSError as rename_err:
                    logging.error("Could not rename %s: %s", path, rename_err)
                continue
            jobs[job_id] = job
        return jobs

    def archive_subdirs(self):
        """The numbers of the archive subdirectories, sorted."""
        try:
            names = os.listdir(self.archive_dir)
        except FileNotFoundError:
            return []
        return sorted(int(n) for n in names if n.isdigit())

    def max_archived_id(self):
        """The highest archived job id (0 if none)."""
        for sub in reversed(self.archive_subdirs()):
            ids = self.archived_ids_in(sub)
            if ids:
                return max(ids)
        return 0

    def archived_ids_in(self, sub):
        """The ids of the jobs in archive subdirectory ``sub``."""
        try:
            names = os.listdir(os.path.join(self.archive_dir, str(sub)))
        except OSError:
            return []
        return [int(m.group(1)) for m in map(_JOB_FILE_RE.match, names) if m]

    def load_archived_job(self, job_id):
        """The archived job ``job_id`` read from the archive, or None."""
        try:
            data = io.read_file(self.archive_path(job_id), binary=True)
            job = QueuedJob.restore(serializer.load_json(data), archived=True)
        except FileNotFoundError:
            return None
        except Exception as err:
            logging.error("Can not read archived job %s: %s", job_id, err)
            return None
        return job if job.id == job_id else None

