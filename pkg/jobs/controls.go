package jobs

import (
	"errors"
	"fmt"

	"github.com/palisadehq/palisade/pkg/catalog"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// Controls returns the controls job asks for, in one of three forms: the definitions it
// carries; the ids of controls of cat; or, naming no control at all, the controls of its
// benchmarks in cat less its exclusions. The last two only when the job was made for cat's
// version: the console resolves a job's controls with its own catalogue, and names them only
// for a sensor that reported the same one.
func Controls(job *sensorv1.Job, cat *catalog.Catalog) ([]*catalog.Control, error) {
	if len(job.GetControls()) > 0 {
		ctls, err := catalog.UnmarshalControls(job.GetControls())
		if err != nil {
			return nil, fmt.Errorf("the job's controls are invalid: %w", err)
		}
		return ctls, nil
	}
	if cat.Version() != job.GetCatalogVersion() {
		return nil, fmt.Errorf("the job names controls of catalogue %q but this sensor has catalogue %s; the console sends definitions once it sees the new version",
			job.GetCatalogVersion(), cat.Version())
	}
	if ids := job.GetControlIds(); len(ids) > 0 {
		ctls := make([]*catalog.Control, 0, len(ids))
		for _, id := range ids {
			c, ok := cat.Control(id)
			if !ok {
				return nil, fmt.Errorf("the job names control %q, which catalogue %s does not have", id, cat.Version())
			}
			ctls = append(ctls, c)
		}
		return ctls, nil
	}
	ctls, err := cat.ControlSet(job.GetBenchmarkIds(), job.GetExcludeControlIds())
	if err != nil {
		return nil, fmt.Errorf("the job's benchmarks do not resolve in catalogue %s: %w", cat.Version(), err)
	}
	if len(ctls) == 0 {
		return nil, errors.New("the job leaves no control to evaluate")
	}
	return ctls, nil
}
