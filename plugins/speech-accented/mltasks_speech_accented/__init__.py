"""mltasks-speech-accented: the accented voices of mltasks-speech's embedded spoken digits.

Data only (``digits/<word>/accented-<language>-<name>_nohash_<n>.flac``), under the licences of
the Festival voices the clips were made from (GPL, LGPL and a Festival-style licence; see
LICENSE.txt). mltasks-speech finds the folder with ``importlib.util.find_spec`` and adds these
voices to its training data when this distribution is installed; nothing here is imported.
"""
