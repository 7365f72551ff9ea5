DROP INDEX event_audience_event;
